package emulator

import (
	_ "embed"
	"fmt"
	"sync"

	"github.com/studio-migrator/studio-migrator/internal/emulator/internal/svcmodel"
)

//go:generate go run ./internal/modelgen -out sagemaker_model.json

// sagemakerModelJSON is the SageMaker service model trimmed to the input shapes of
// the operations served here (see internal/modelgen); TestEmbeddedModel checks it
// against the model file it was made from.
//
//go:embed sagemaker_model.json
var sagemakerModelJSON []byte

type compiledModel struct {
	*svcmodel.Model
	patterns map[string]svcmodel.Matcher // by shape name
}

var loadModel = sync.OnceValue(func() *compiledModel {
	m, err := svcmodel.Parse(sagemakerModelJSON)
	if err != nil {
		panic(err) // the embedded file is checked by tests; only a broken build gets here
	}
	cm := &compiledModel{Model: m, patterns: map[string]svcmodel.Matcher{}}
	for name, s := range m.Shapes {
		if s.Pattern == "" {
			continue
		}
		match, err := svcmodel.CompilePattern(s.Pattern, s.MaxLen())
		if err != nil {
			panic(fmt.Sprintf("embedded SageMaker model, shape %s: %v", name, err))
		}
		cm.patterns[name] = match
	}
	return cm
})
