package main

import "github.com/studio-migrator/studio-migrator/internal/cli"

func main() {
	cli.Main(newRootCommand(), errorMessage)
}
