// Command wire-rules writes what kube-apiserver's Go types do to an object's JSON between a request and
// the stored object, for every built-in kind of the pinned release: which fields vanish when they hold
// their zero value (non-pointer fields tagged omitempty), which always appear even when unset (non-pointer
// scalars and structs without it), and which nested types to descend into. Themelios' shared API semantics
// apply these rules to every write, so its API server and its model checker's datastore store what the
// real server stores.
//
//	go run ./tools/wire-rules > ../crates/api/src/wire/rules.json
//
// The output is derived from the Go struct definitions by reflection: nothing in it is written by hand.
package main

import (
	"encoding"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"runtime/debug"
	"strings"

	"k8s.io/client-go/kubernetes/scheme"
)

// Field is one JSON field of a Go struct, as the rules need it.
type Field struct {
	// Omit: "zero" when the field disappears at its zero value (a value field tagged omitempty: a
	// number, bool, string, slice or map); "never" when it always appears (a value scalar without
	// omitempty); "null" for a slice or map without omitempty, or a time held by value, which Go writes
	// as null when unset (and
	// which reads back as null when empty, protobuf storage keeping no empty lists). Clients take null as
	// absent, so stored objects need nothing for it; field ownership does (an empty object's fields are
	// present, as null).
	Omit string `json:"omit,omitempty"`
	// Zero is the JSON value an absent "never" field reads back as.
	Zero any `json:"zero,omitempty"`
	// Struct is set on a value (non-pointer) struct field: it always appears, as {} at the least.
	Struct bool `json:"struct,omitempty"`
	// Type names the definition to descend into (a struct, a pointer to one, or a list or map of them).
	Type string `json:"type,omitempty"`
	// Container is "list" or "map" when Type names the element of a list or a map.
	Container string `json:"container,omitempty"`
}

type table struct {
	Kubernetes string                      `json:"kubernetes"`
	Kinds      map[string]string           `json:"kinds"`
	Types      map[string]map[string]Field `json:"types"`
}

var (
	stableVersion = regexp.MustCompile(`^v[0-9]+$`)
	jsonMarshaler = reflect.TypeOf((*json.Marshaler)(nil)).Elem()
	textMarshaler = reflect.TypeOf((*encoding.TextMarshaler)(nil)).Elem()
)

// definitionName spells a Go type as the OpenAPI definitions do: k8s.io/api/apps/v1.ReplicaSet becomes
// io.k8s.api.apps.v1.ReplicaSet.
func definitionName(t reflect.Type) string {
	path := t.PkgPath()
	host, rest, _ := strings.Cut(path, "/")
	parts := strings.Split(host, ".")
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strings.Join(parts, ".") + "." + strings.ReplaceAll(rest, "/", ".") + "." + t.Name()
}

// opaque: types that write their own JSON (times, quantities, int-or-string, raw extensions): leaves.
func opaque(t reflect.Type) bool {
	return t.Implements(jsonMarshaler) || reflect.PointerTo(t).Implements(jsonMarshaler) ||
		t.Implements(textMarshaler) || reflect.PointerTo(t).Implements(textMarshaler)
}

type generator struct {
	types map[string]map[string]Field
	// done holds every struct visited, with whether it (transitively) has a rule.
	done map[reflect.Type]bool
}

// visit records the struct t and returns whether anything in it needs a rule.
func (g *generator) visit(t reflect.Type) bool {
	if relevant, seen := g.done[t]; seen {
		return relevant
	}
	g.done[t] = false // a recursive type's cycle is settled by its outermost visit
	fields := map[string]Field{}
	g.collect(t, fields)
	relevant := len(fields) > 0
	if relevant {
		g.types[definitionName(t)] = fields
	}
	g.done[t] = relevant
	return relevant
}

func (g *generator) collect(t reflect.Type, fields map[string]Field) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, options, _ := strings.Cut(tag, ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				g.collect(ft, fields) // inline: its fields are the parent's in JSON
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		omitempty := false
		for _, o := range strings.Split(options, ",") {
			if o == "omitempty" {
				omitempty = true
			}
			if o == "inline" && f.Type.Kind() == reflect.Struct {
				g.collect(f.Type, fields)
				name = ""
			}
		}
		if name == "" {
			continue
		}
		if rule, ok := g.rule(f.Type, omitempty); ok {
			fields[name] = rule
		}
	}
}

// rule decides a field's rule from its Go type; ok is false when the field needs none.
func (g *generator) rule(t reflect.Type, omitempty bool) (Field, bool) {
	var rule Field
	switch t.Kind() {
	case reflect.Pointer:
		elem := t.Elem()
		if elem.Kind() == reflect.Struct && !opaque(elem) && g.visit(elem) {
			rule.Type = definitionName(elem)
		}
	case reflect.Struct:
		if writesNullWhenZero(t) {
			// A metav1.Time held by value is written as null when unset: present, as null.
			rule.Omit = "null"
			return rule, true
		}
		if opaque(t) {
			return rule, false
		}
		rule.Struct = true
		if g.visit(t) {
			rule.Type = definitionName(t)
		}
	case reflect.Slice, reflect.Map:
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
			// []byte is a base64 string in JSON.
			if omitempty {
				rule.Omit = "zero"
			}
			break
		}
		if omitempty {
			rule.Omit = "zero"
		} else {
			rule.Omit = "null"
		}
		elem := t.Elem()
		if elem.Kind() == reflect.Pointer {
			elem = elem.Elem()
		}
		if elem.Kind() == reflect.Struct && !opaque(elem) && g.visit(elem) {
			rule.Type = definitionName(elem)
			rule.Container = "list"
			if t.Kind() == reflect.Map {
				rule.Container = "map"
			}
		}
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		if opaque(t) {
			return rule, false
		}
		if omitempty {
			rule.Omit = "zero"
		} else {
			rule.Omit = "never"
			rule.Zero = zeroJSON(t)
		}
	}
	return rule, rule != (Field{})
}

// writesNullWhenZero: the time types, whose MarshalJSON writes null for the zero time.
func writesNullWhenZero(t reflect.Type) bool {
	return t.PkgPath() == "k8s.io/apimachinery/pkg/apis/meta/v1" && (t.Name() == "Time" || t.Name() == "MicroTime")
}

// apiModuleVersion is the version of k8s.io/api the rules were read from (after this module's replace).
func apiModuleVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, m := range info.Deps {
		if m.Path == "k8s.io/api" {
			if m.Replace != nil {
				return "k8s.io/api " + m.Replace.Version
			}
			return "k8s.io/api " + m.Version
		}
	}
	return "unknown"
}

func zeroJSON(t reflect.Type) any {
	switch t.Kind() {
	case reflect.String:
		return ""
	case reflect.Bool:
		return false
	default:
		return 0
	}
}

func main() {
	g := &generator{types: map[string]map[string]Field{}, done: map[reflect.Type]bool{}}
	kinds := map[string]string{}
	for gvk, t := range scheme.Scheme.AllKnownTypes() {
		if gvk.Version == "__internal" || strings.HasSuffix(gvk.Kind, "List") || strings.HasSuffix(gvk.Kind, "Options") {
			continue
		}
		if !strings.HasPrefix(t.PkgPath(), "k8s.io/api/") {
			continue // meta types registered into every group (Status, WatchEvent, …)
		}
		if !stableVersion.MatchString(gvk.Version) {
			continue // alpha and beta versions: not served by Themelios, and their rules would only add size
		}
		g.visit(t)
		kinds[gvk.GroupVersion().String()+"/"+gvk.Kind] = definitionName(t)
	}
	out := table{Kubernetes: apiModuleVersion(), Kinds: kinds, Types: g.types}
	// encoding/json sorts map keys, so the output is stable.
	body, err := json.MarshalIndent(out, "", " ")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Stdout.Write(append(body, '\n'))
}
