// sftpjail-gen-sdk: the Pulumi CLI's own SDK code generators (pkg/codegen at the CLI's version), run directly.
// `pulumi package gen-sdk` reaches them through the language host, and the Python and Node.js hosts buildable here
// (sdk v3.68.0) predate the GeneratePackage call; usage: sftpjail-gen-sdk <python|nodejs> <schema.json> <outdir>
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pulumi/pulumi/pkg/v3/codegen/nodejs"
	"github.com/pulumi/pulumi/pkg/v3/codegen/python"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"

	"github.com/blang/semver"
)

// noLoader: the sftpjail schema references no other package, so any load is an error.
type noLoader struct{}

func (noLoader) LoadPackage(pkg string, _ *semver.Version) (*schema.Package, error) {
	return nil, fmt.Errorf("package %q: the sftpjail schema references no other package", pkg)
}
func (l noLoader) LoadPackageV2(_ context.Context, d *schema.PackageDescriptor) (*schema.Package, error) {
	return l.LoadPackage(d.Name, nil)
}
func (l noLoader) LoadPackageReference(pkg string, _ *semver.Version) (schema.PackageReference, error) {
	return nil, fmt.Errorf("package %q: the sftpjail schema references no other package", pkg)
}
func (l noLoader) LoadPackageReferenceV2(_ context.Context, d *schema.PackageDescriptor) (schema.PackageReference, error) {
	return l.LoadPackageReference(d.Name, nil)
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: sftpjail-gen-sdk <python|nodejs> <schema.json> <outdir>")
		os.Exit(2)
	}
	lang, schemaPath, out := os.Args[1], os.Args[2], os.Args[3]
	data, err := os.ReadFile(schemaPath)
	check(err)
	var spec schema.PackageSpec
	check(json.Unmarshal(data, &spec))
	pkg, diags, err := schema.BindSpec(spec, noLoader{}, schema.ValidationOptions{})
	check(err)
	if diags.HasErrors() {
		check(diags)
	}
	var files map[string][]byte
	switch lang {
	case "python":
		files, err = python.GeneratePackage("pulumi-gen-sftpjail", pkg, nil, noLoader{})
	case "nodejs":
		files, err = nodejs.GeneratePackage("pulumi-gen-sftpjail", pkg, nil, nil, false, noLoader{})
	default:
		err = fmt.Errorf("unsupported language %q", lang)
	}
	check(err)
	for name, content := range files {
		p := filepath.Join(out, name)
		check(os.MkdirAll(filepath.Dir(p), 0o755))
		check(os.WriteFile(p, content, 0o644))
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "sftpjail-gen-sdk:", err)
		os.Exit(1)
	}
}
