// pulumi-resource-kubernetes: the Pulumi Kubernetes provider, served from the
// pulumi-kubernetes/provider/v4 module. Upstream's own main embeds files that
// its `go generate` writes (schema-embed.json, terraform-mapping-embed.json);
// build.sh writes them next to this file, in a build copy of the family, from
// the schema the module carries, as upstream's generate.go does.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var pulumiSchema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, pulumiSchema, terraformMapping)
}
