// Added to the v3.68.0 Node.js language host when scripts/setup-pulumi.sh builds it (see there for why that version).
//
// That host takes its runtime options (`typescript`, `nodeargs`, `tsconfig`) as command-line flags, which the CLIs of
// its time built from Pulumi.yaml's `runtime.options`. Current CLIs send them inside each Run request instead and
// start the host with only the engine's address, so without this file every option was silently dropped: a project
// that says `typescript: false` still had ts-node registered, and `nodeargs` never reached Node. The CLI starts the
// host in the program's directory (`main`'s, inside the project), so this finds Pulumi.yaml the way the CLI does, in
// that directory or the nearest one above, and hands its options to the host as the flags it knows, before its
// main() parses them. Official Pulumi installs need none of this.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

func init() {
	var project struct {
		Runtime yaml.Node `yaml:"runtime"`
	}
	b, err := projectFile()
	if err != nil || yaml.Unmarshal(b, &project) != nil || project.Runtime.Kind != yaml.MappingNode {
		return // no project here, or `runtime: nodejs` without options: the host's defaults apply
	}
	var runtime struct {
		Options map[string]interface{} `yaml:"options"`
	}
	if project.Runtime.Decode(&runtime) != nil {
		return
	}
	var flags []string
	for _, key := range []string{"typescript", "nodeargs", "tsconfig"} { // the flags this host defines
		switch v := runtime.Options[key].(type) {
		case bool:
			flags = append(flags, fmt.Sprintf("-%s=%t", key, v))
		case string:
			flags = append(flags, fmt.Sprintf("-%s=%s", key, v))
		}
	}
	// flags go before the engine address, the one positional argument
	os.Args = append(append([]string{os.Args[0]}, flags...), os.Args[1:]...)
}

// projectFile reads the Pulumi.yaml (or .yml) of the working directory or of the nearest directory above it.
func projectFile() ([]byte, error) {
	dir, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	for {
		for _, name := range []string{"Pulumi.yaml", "Pulumi.yml"} {
			if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
				return b, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil, os.ErrNotExist
		}
		dir = parent
	}
}
