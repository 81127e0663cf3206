// Command etcd is the etcd server at the version kube-apiserver's go.mod requires, for the upstream control
// plane Themelios is tested against.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
