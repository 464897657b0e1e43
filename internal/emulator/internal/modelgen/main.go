// Command modelgen trims the SageMaker service model (botocore's service-2.json, as
// shipped by the AWS CLI and by botocore) to the input shapes of the operations the
// emulator serves, keeping only what validation needs: types, required members,
// lengths, ranges, patterns and enums. The emulator embeds its output, so it never
// reads a file outside the repository at run time.
//
//	go generate ./internal/emulator
//
// regenerates internal/emulator/sagemaker_model.json from the newest model found (or
// from -model). The emulator's TestEmbeddedModel checks the embedded copy against the
// model file again.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/studio-migrator/studio-migrator/internal/emulator/internal/svcmodel"
)

func main() {
	model := flag.String("model", "", "service-2.json(.gz) of SageMaker (default: the newest installed)")
	out := flag.String("out", "sagemaker_model.json", "file to write")
	flag.Parse()
	if *model == "" {
		paths := svcmodel.InstalledModels()
		if len(paths) == 0 {
			fmt.Fprintln(os.Stderr, "modelgen: no SageMaker service model installed; install awscli (apt-get install awscli) or give -model")
			os.Exit(1)
		}
		*model = paths[0]
	}
	b, err := svcmodel.Generate(*model)
	if err != nil {
		fmt.Fprintln(os.Stderr, "modelgen:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "modelgen:", err)
		os.Exit(1)
	}
	slog.Info("wrote the trimmed SageMaker model", "from", *model, "to", *out, "bytes", len(b))
}
