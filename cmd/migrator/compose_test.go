package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// composeFile is the part of docker-compose.yml the test checks.
type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Build       any               `yaml:"build"`
		Entrypoint  []string          `yaml:"entrypoint"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		DependsOn   map[string]any    `yaml:"depends_on"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
}

// interpolate replaces ${VAR:-default} with the default, ${VAR:?msg} and ${VAR}
// with a placeholder, as docker compose would with those variables unset or set.
func interpolate(s string) string {
	re := regexp.MustCompile(`\$\{([A-Z_][A-Z0-9_]*)(?:(:-|:\?)([^}]*))?\}`)
	return re.ReplaceAllStringFunc(s, func(m string) string {
		p := re.FindStringSubmatch(m)
		if p[2] == ":-" {
			return p[3]
		}
		return "value-of-" + p[1]
	})
}

// TestComposeFile parses docker-compose.yml and checks its services, images, the
// persistent Redis, and that the worker's command is one the binary has (flags
// included), and that the README documents every environment variable it uses.
func TestComposeFile(t *testing.T) {
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var cf composeFile
	if err := yaml.Unmarshal(raw, &cf); err != nil {
		t.Fatalf("docker-compose.yml is not valid YAML: %v", err)
	}
	var names []string
	for n := range cf.Services {
		names = append(names, n)
	}
	slices.Sort(names)
	if want := []string{"asynqmon", "redis", "worker"}; !slices.Equal(names, want) {
		t.Fatalf("services %v, want %v", names, want)
	}

	redis := cf.Services["redis"]
	if !strings.HasPrefix(redis.Image, "redis:") {
		t.Errorf("redis image %q, want redis:<tag>", redis.Image)
	}
	cmd := strings.Join(redis.Command, " ")
	if !strings.Contains(cmd, "--appendonly yes") {
		t.Errorf("redis command %q: want AOF persistence (--appendonly yes)", cmd)
	}
	var dataVolume string
	for _, v := range redis.Volumes {
		if src, dst, ok := strings.Cut(v, ":"); ok && dst == "/data" {
			dataVolume = src
		}
	}
	if _, ok := cf.Volumes[dataVolume]; dataVolume == "" || !ok {
		t.Errorf("redis's /data is %q, want a named volume declared under volumes: (declared: %v)", dataVolume, cf.Volumes)
	}

	mon := cf.Services["asynqmon"]
	if !strings.HasPrefix(mon.Image, "hibiken/asynqmon") {
		t.Errorf("asynqmon image %q, want hibiken/asynqmon", mon.Image)
	}
	if !slices.ContainsFunc(mon.Command, func(s string) bool {
		return strings.HasPrefix(s, "--redis-url=redis://") && strings.Contains(s, "@redis:6379")
	}) {
		t.Errorf("asynqmon command %v: want --redis-url=redis://...@redis:6379/...", mon.Command)
	}

	w := cf.Services["worker"]
	if w.Build == nil || w.Image == "" {
		t.Errorf("worker: want build: (the Dockerfile) and an image name; got build %v image %q", w.Build, w.Image)
	}
	if !slices.Equal(w.Entrypoint, []string{"migrator"}) {
		t.Errorf("worker entrypoint %v, want [migrator]", w.Entrypoint)
	}
	if _, ok := w.DependsOn["redis"]; !ok {
		t.Errorf("worker does not depend on redis")
	}
	u := interpolate(w.Environment["REDIS_URL"])
	if !strings.Contains(u, "@redis:6379") {
		t.Errorf("worker REDIS_URL %q: want the redis service", u)
	}
	if _, err := (&redisOptions{url: u}).connOpt(); err != nil {
		t.Errorf("worker REDIS_URL %q is refused by the binary: %v", u, err)
	}
	args := make([]string, len(w.Command))
	for i, a := range w.Command {
		args[i] = interpolate(a)
	}
	root := newRootCommand()
	c, rest, err := root.Find(args)
	if err != nil || c == root || c.Name() != "worker" {
		t.Fatalf("worker command %v: not a command of the binary (%v, found %q)", args, err, c.Name())
	}
	if err := c.ParseFlags(rest); err != nil {
		t.Errorf("worker command %v: the binary refuses its flags: %v", args, err)
	}
	if c.Flags().Lookup("concurrency").Value.String() != "4" {
		t.Errorf("worker --concurrency parsed as %s, want the default 4", c.Flags().Lookup("concurrency").Value)
	}

	// Every variable the file reads, and every variable it sets for the worker, is
	// documented in the README.
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]bool{}
	for _, m := range regexp.MustCompile(`\$\{([A-Z_][A-Z0-9_]*)`).FindAllStringSubmatch(string(raw), -1) {
		vars[m[1]] = true
	}
	for k := range w.Environment {
		vars[k] = true
	}
	for v := range vars {
		if !strings.Contains(string(readme), "`"+v+"`") {
			t.Errorf("README does not document the environment variable `%s` used by docker-compose.yml", v)
		}
	}
}

// TestDockerfile checks that the image builds the migrator and runs it.
func TestDockerfile(t *testing.T) {
	raw, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	for _, want := range []string{"go build", "./cmd/migrator", `ENTRYPOINT ["migrator"]`, `CMD ["worker"]`, "ca-certificates"} {
		if !strings.Contains(s, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}
