// Command ssa-structure writes the structure server-side apply merges by, for every definition of the
// pinned release that has any: which object types are atomic (`x-kubernetes-map-type: atomic`, owned and
// replaced as a whole, like a label selector), and which lists are sets or maps and by which keys
// (`x-kubernetes-list-type`, `x-kubernetes-list-map-keys`, which can differ from a strategic merge
// patch's single merge key: a Service's ports are keyed by port and protocol). Read from kube-apiserver's
// own generated OpenAPI definitions; nothing in the output is written by hand.
//
//	go run ./tools/ssa-structure > ../crates/apiserver/src/schema/ssa.json
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime/debug"
	"strings"

	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/kubernetes/pkg/generated/openapi"
)

// Field is one property's list structure.
type Field struct {
	ListType string   `json:"listType,omitempty"`
	Keys     []string `json:"keys,omitempty"`
	// Atomic marks a map property whose values are owned as a whole (`x-kubernetes-map-type: atomic`).
	Atomic bool `json:"atomic,omitempty"`
}

// Definition is one type's structure.
type Definition struct {
	Atomic bool             `json:"atomic,omitempty"`
	Fields map[string]Field `json:"fields,omitempty"`
}

// definitionName turns k8s.io/api/core/v1.ServiceSpec into io.k8s.api.core.v1.ServiceSpec.
func definitionName(goName string) string {
	path, name, _ := strings.Cut(goName, ".")
	if i := strings.LastIndex(goName, "."); i >= 0 {
		path, name = goName[:i], goName[i+1:]
	}
	host, rest, _ := strings.Cut(path, "/")
	parts := strings.Split(host, ".")
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strings.Join(parts, ".") + "." + strings.ReplaceAll(rest, "/", ".") + "." + name
}

func extension(s spec.Schema, name string) (interface{}, bool) {
	v, ok := s.Extensions[name]
	return v, ok
}

func main() {
	definitions := openapi.GetOpenAPIDefinitions(func(path string) spec.Ref { return spec.MustCreateRef(path) })
	out := map[string]Definition{}
	for goName, def := range definitions {
		if !strings.HasPrefix(goName, "k8s.io/api/") && !strings.HasPrefix(goName, "k8s.io/apimachinery/") {
			continue
		}
		var d Definition
		if v, ok := extension(def.Schema, "x-kubernetes-map-type"); ok && v == "atomic" {
			d.Atomic = true
		}
		for name, property := range def.Schema.Properties {
			var f Field
			if v, ok := extension(property, "x-kubernetes-list-type"); ok {
				f.ListType = fmt.Sprint(v)
			}
			if v, ok := extension(property, "x-kubernetes-list-map-keys"); ok {
				for _, k := range v.([]interface{}) {
					f.Keys = append(f.Keys, fmt.Sprint(k))
				}
			}
			if v, ok := extension(property, "x-kubernetes-map-type"); ok && v == "atomic" {
				f.Atomic = true
			}
			if f.ListType != "" || len(f.Keys) > 0 || f.Atomic {
				if d.Fields == nil {
					d.Fields = map[string]Field{}
				}
				d.Fields[name] = f
			}
		}
		if d.Atomic || len(d.Fields) > 0 {
			out[definitionName(goName)] = d
		}
	}
	version := "unknown"
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, m := range info.Deps {
			if m.Path == "k8s.io/kubernetes" {
				version = "k8s.io/kubernetes " + m.Version
			}
		}
	}
	body, err := json.MarshalIndent(map[string]interface{}{"kubernetes": version, "definitions": out}, "", " ")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Stdout.Write(append(body, '\n'))
}

var _ common.ReferenceCallback
