// CoreDNS with only the plugins the real node's Corefile uses
// (testenv/real-node/configs.ts, corefile()): a main that imports coremain
// and those plugins, as CoreDNS documents for a custom build. Upstream's
// main (core/plugin) links every plugin, with the AWS, Azure and Google Cloud
// SDKs of route53, azure and clouddns, which a node here never uses.
package main

import (
	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/ready"

	"github.com/coredns/coredns/coremain"
)

func main() {
	coremain.Run()
}
