// Command kube-apiserver is upstream's kube-apiserver, built from the k8s.io/kubernetes module at the
// release pinned in ../../versions.env, so Themelios can be tested against it.
package main

import (
	"os"
	_ "time/tzdata" // CronJob time zones, as upstream's binary embeds them

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
