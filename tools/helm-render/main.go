// helm-render renders a Helm chart the way `helm template` does, for tests on machines without
// the helm binary: Go's text/template with the sprig functions and helm's own extra functions
// (include, tpl, required, toYaml, fromYaml, toJson, fromJson, lookup), values.yaml deep-merged
// with override files (a null deletes a key, as in helm), and .Release, .Chart, .Capabilities,
// .Template and .Files as helm fills them for `helm template`.
//
// Not done here: values.schema.json validation (the TypeScript tests run it with ajv on the
// merged values this prints with --output json), subcharts, --set.
//
//	helm-render [-name NAME] [-namespace NS] [-f values.yaml]... [-kube-version v1.30.0]
//	            [-api-versions group/version[/Kind]]... [-output yaml|json|values] CHART_DIR
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/semver"
	"github.com/Masterminds/sprig"
	yaml "gopkg.in/yaml.v2"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// Manifest is one rendered YAML document and the template it came from.
type Manifest struct {
	Source  string `json:"source"`
	Kind    string `json:"kind"`
	Content string `json:"content"`
}

type result struct {
	Values    map[string]interface{} `json:"values"`
	Manifests []Manifest             `json:"manifests"`
	Notes     string                 `json:"notes"`
}

func main() {
	name := flag.String("name", "release-name", "release name (helm template's default)")
	namespace := flag.String("namespace", "default", "release namespace")
	kubeVersion := flag.String("kube-version", "v1.30.0", "Kubernetes version in .Capabilities")
	output := flag.String("output", "yaml", "yaml (like helm template), json (values, manifests, notes) or values (the merged values as JSON, nothing rendered)")
	var valueFiles, apiVersions multiFlag
	flag.Var(&valueFiles, "f", "values file merged over values.yaml (repeatable, later wins)")
	flag.Var(&apiVersions, "api-versions", "extra API version in .Capabilities.APIVersions (repeatable)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: helm-render [flags] CHART_DIR")
		os.Exit(2)
	}
	res, err := render(flag.Arg(0), *name, *namespace, *kubeVersion, valueFiles, apiVersions, *output == "values")
	if err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		os.Exit(1)
	}
	if *output == "json" || *output == "values" {
		var out []byte
		if *output == "values" {
			out, err = json.Marshal(res.Values)
		} else {
			out, err = json.Marshal(res)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "Error: %v\n", err)
			os.Exit(1)
		}
		os.Stdout.Write(out)
		return
	}
	for _, m := range res.Manifests {
		fmt.Printf("---\n# Source: %s\n%s\n", m.Source, m.Content)
	}
}

// chartMeta holds the Chart.yaml fields templates use, named as helm exposes them in .Chart.
type chartMeta struct {
	APIVersion  string   `yaml:"apiVersion"`
	Name        string   `yaml:"name"`
	Version     string   `yaml:"version"`
	AppVersion  string   `yaml:"appVersion"`
	Description string   `yaml:"description"`
	Type        string   `yaml:"type"`
	KubeVersion string   `yaml:"kubeVersion"`
	Keywords    []string `yaml:"keywords"`
	Home        string   `yaml:"home"`
	Sources     []string `yaml:"sources"`
	Icon        string   `yaml:"icon"`
	Deprecated  bool     `yaml:"deprecated"`
}

// versionSet is .Capabilities.APIVersions, with helm's Has method.
type versionSet []string

func (v versionSet) Has(apiVersion string) bool {
	for _, x := range v {
		if x == apiVersion {
			return true
		}
	}
	return false
}

type kubeVersionInfo struct {
	Version, Major, Minor, GitVersion string
}

func (k kubeVersionInfo) String() string { return k.Version }

type capabilities struct {
	KubeVersion kubeVersionInfo
	APIVersions versionSet
	HelmVersion map[string]string
}

// files is .Files: every chart file outside templates/ and the chart's own metadata.
type files map[string][]byte

func (f files) Get(name string) string      { return string(f[name]) }
func (f files) GetBytes(name string) []byte { return f[name] }
func (f files) Lines(name string) []string {
	return strings.Split(strings.TrimRight(string(f[name]), "\n"), "\n")
}

// The API versions `helm template` assumes without a cluster (the built-in groups); CRD
// groups such as monitoring.coreos.com/v1 only with -api-versions, as with helm.
var defaultAPIVersions = []string{
	"v1", "apps/v1", "batch/v1", "policy/v1", "rbac.authorization.k8s.io/v1",
	"networking.k8s.io/v1", "storage.k8s.io/v1", "scheduling.k8s.io/v1", "coordination.k8s.io/v1",
	"apiextensions.k8s.io/v1", "admissionregistration.k8s.io/v1", "autoscaling/v2", "discovery.k8s.io/v1",
}

func render(chartDir, releaseName, namespace, kubeVersion string, valueFiles, extraAPIs []string, valuesOnly bool) (*result, error) {
	var meta chartMeta
	if err := readYAML(filepath.Join(chartDir, "Chart.yaml"), &meta); err != nil {
		return nil, err
	}
	kv, err := semver.NewVersion(kubeVersion)
	if err != nil {
		return nil, fmt.Errorf("-kube-version %q: %v", kubeVersion, err)
	}
	if meta.KubeVersion != "" {
		c, err := semver.NewConstraint(meta.KubeVersion)
		if err != nil {
			return nil, fmt.Errorf("Chart.yaml kubeVersion %q: %v", meta.KubeVersion, err)
		}
		if !c.Check(kv) {
			return nil, fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes %s", meta.KubeVersion, kubeVersion)
		}
	}

	values, err := readValues(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		return nil, err
	}
	for _, f := range valueFiles {
		override, err := readValues(f)
		if err != nil {
			return nil, err
		}
		values = coalesce(override, values)
	}
	if valuesOnly {
		return &result{Values: values}, nil
	}

	templates, chartFiles, err := loadChartFiles(chartDir, meta.Name)
	if err != nil {
		return nil, err
	}
	top := map[string]interface{}{
		"Values": values,
		"Release": map[string]interface{}{
			"Name": releaseName, "Namespace": namespace, "Service": "Helm",
			"Revision": 1, "IsInstall": true, "IsUpgrade": false,
		},
		"Chart": meta,
		"Capabilities": capabilities{
			KubeVersion: kubeVersionInfo{
				Version: "v" + kv.String(), Major: fmt.Sprint(kv.Major()), Minor: fmt.Sprint(kv.Minor()), GitVersion: "v" + kv.String(),
			},
			APIVersions: append(versionSet(append([]string{}, defaultAPIVersions...)), extraAPIs...),
			HelmVersion: map[string]string{"Version": "v3.16.0"},
		},
		"Files": chartFiles,
	}
	rendered, err := renderTemplates(templates, top, meta.Name)
	if err != nil {
		return nil, err
	}

	res := &result{Values: values, Manifests: []Manifest{}}
	names := make([]string, 0, len(rendered))
	for n := range rendered {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if strings.HasSuffix(n, "NOTES.txt") {
			res.Notes = rendered[n]
			continue
		}
		for _, doc := range splitManifests(rendered[n]) {
			res.Manifests = append(res.Manifests, Manifest{Source: n, Kind: kindOf(doc), Content: doc})
		}
	}
	// helm installs (and prints) objects in kind order, then by template name.
	sort.SliceStable(res.Manifests, func(i, j int) bool {
		return kindRank(res.Manifests[i].Kind) < kindRank(res.Manifests[j].Kind)
	})
	return res, nil
}

func readYAML(file string, into interface{}) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if err := yaml.Unmarshal(data, into); err != nil {
		return fmt.Errorf("%s: %v", file, err)
	}
	return nil
}

// readValues parses a values file as helm does (sigs.k8s.io/yaml: YAML to JSON, then
// encoding/json), so numbers are float64 and keys strings, exactly what templates see.
func readValues(file string) (map[string]interface{}, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	m, err := yamlToJSONMap(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	return m, nil
}

func yamlToJSONMap(data []byte) (map[string]interface{}, error) {
	var raw interface{}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	if raw == nil {
		return map[string]interface{}{}, nil
	}
	j, err := json.Marshal(jsonCompatible(raw))
	if err != nil {
		return nil, err
	}
	out := map[string]interface{}{}
	if err := json.Unmarshal(j, &out); err != nil {
		return nil, fmt.Errorf("not a mapping: %v", err)
	}
	return out, nil
}

func jsonCompatible(v interface{}) interface{} {
	switch t := v.(type) {
	case map[interface{}]interface{}:
		m := make(map[string]interface{}, len(t))
		for k, x := range t {
			m[fmt.Sprint(k)] = jsonCompatible(x)
		}
		return m
	case []interface{}:
		for i := range t {
			t[i] = jsonCompatible(t[i])
		}
		return t
	default:
		return v
	}
}

// coalesce merges user values over defaults as helm does: maps merge key by key, any other
// value (lists included) replaces, and a null in the user values deletes the default key.
func coalesce(user, defaults map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(defaults))
	for k, v := range defaults {
		out[k] = v
	}
	for k, v := range user {
		if v == nil {
			delete(out, k)
			continue
		}
		um, uok := v.(map[string]interface{})
		dm, dok := out[k].(map[string]interface{})
		if uok && dok {
			out[k] = coalesce(um, dm)
		} else {
			out[k] = v
		}
	}
	return out
}

// loadChartFiles returns the templates (by helm's name, CHART/templates/...) and .Files.
func loadChartFiles(chartDir, chartName string) (map[string]string, files, error) {
	templates := map[string]string{}
	other := files{}
	err := filepath.Walk(chartDir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(chartDir, p)
		rel = filepath.ToSlash(rel)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		switch {
		case strings.HasPrefix(rel, "templates/"):
			templates[chartName+"/"+rel] = string(data)
		case rel == "Chart.yaml" || rel == "values.yaml" || rel == "values.schema.json" || rel == ".helmignore" || strings.HasPrefix(rel, "charts/"):
		default:
			other[rel] = data
		}
		return nil
	})
	return templates, other, err
}

const recursionMaxNums = 1000

func renderTemplates(sources map[string]string, top map[string]interface{}, chartName string) (map[string]string, error) {
	t := template.New("gotpl")
	// helm template (not --strict): a missing key renders as empty.
	t.Option("missingkey=zero")
	includedNames := map[string]int{}
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	for k, v := range helmFuncs() {
		funcs[k] = v
	}
	funcs["include"] = func(name string, data interface{}) (string, error) {
		if includedNames[name] > recursionMaxNums {
			return "", fmt.Errorf("rendering template has a nested reference name: %s", name)
		}
		includedNames[name]++
		defer func() { includedNames[name]-- }()
		var buf strings.Builder
		err := t.ExecuteTemplate(&buf, name, data)
		return buf.String(), err
	}
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
		clone, err := t.Clone()
		if err != nil {
			return "", err
		}
		clone.Option("missingkey=zero")
		tt, err := clone.New("tpl").Parse(text)
		if err != nil {
			return "", fmt.Errorf("cannot parse template %q: %v", text, err)
		}
		var buf strings.Builder
		if err := tt.Execute(&buf, data); err != nil {
			return "", fmt.Errorf("error during tpl function execution for %q: %v", text, err)
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	t.Funcs(funcs)

	names := make([]string, 0, len(sources))
	for n := range sources {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if _, err := t.New(n).Parse(sources[n]); err != nil {
			return nil, err
		}
	}
	out := map[string]string{}
	for _, n := range names {
		if strings.HasPrefix(filepath.Base(n), "_") {
			continue // partials: defines only
		}
		vals := make(map[string]interface{}, len(top)+1)
		for k, v := range top {
			vals[k] = v
		}
		vals["Template"] = map[string]interface{}{"Name": n, "BasePath": chartName + "/templates"}
		var buf strings.Builder
		if err := t.ExecuteTemplate(&buf, n, vals); err != nil {
			return nil, cleanupError(err)
		}
		out[n] = strings.ReplaceAll(buf.String(), "<no value>", "")
	}
	return out, nil
}

// cleanupError surfaces the message of `fail` and `required` as helm does, after the location.
func cleanupError(err error) error {
	var execErr template.ExecError
	if errors.As(err, &execErr) {
		return fmt.Errorf("execution error at (%s): %v", execErr.Name, execErr.Err)
	}
	return err
}

func helmFuncs() template.FuncMap {
	return template.FuncMap{
		"toYaml": toYAML,
		"fromYaml": func(s string) map[string]interface{} {
			m, err := yamlToJSONMap([]byte(s))
			if err != nil {
				return map[string]interface{}{"Error": err.Error()}
			}
			return m
		},
		"fromYamlArray": func(s string) []interface{} {
			var raw interface{}
			if err := yaml.Unmarshal([]byte(s), &raw); err != nil {
				return []interface{}{err.Error()}
			}
			a, _ := jsonCompatible(raw).([]interface{})
			return a
		},
		"toJson": func(v interface{}) string {
			data, err := json.Marshal(v)
			if err != nil {
				return ""
			}
			return string(data)
		},
		"fromJson": func(s string) map[string]interface{} {
			m := map[string]interface{}{}
			if err := json.Unmarshal([]byte(s), &m); err != nil {
				m["Error"] = err.Error()
			}
			return m
		},
		"required": func(warn string, val interface{}) (interface{}, error) {
			if val == nil {
				return val, errors.New(warn)
			}
			if s, ok := val.(string); ok && s == "" {
				return val, errors.New(warn)
			}
			return val, nil
		},
		// No cluster: lookup finds nothing, as in `helm template`.
		"lookup": func(apiVersion, kind, namespace, name string) (map[string]interface{}, error) {
			return map[string]interface{}{}, nil
		},
	}
}

// toYAML is helm's toYaml: sigs.k8s.io/yaml (JSON first, so keys sorted and struct tags of
// encoding/json honoured), without the trailing newline.
func toYAML(v interface{}) string {
	j, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	var obj interface{}
	if err := yaml.Unmarshal(j, &obj); err != nil {
		return ""
	}
	data, err := yaml.Marshal(obj)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(data), "\n")
}

var sep = regexp.MustCompile(`(?:^|\s*\n)---\s*`)
var kindLine = regexp.MustCompile(`(?m)^kind:\s*["']?([A-Za-z0-9]+)`)

// splitManifests splits rendered text into YAML documents, dropping empty ones (helm's
// releaseutil.SplitManifests).
func splitManifests(text string) []string {
	var docs []string
	for _, d := range sep.Split(text, -1) {
		if strings.TrimSpace(d) == "" {
			continue
		}
		// A document of only comments is dropped by helm too.
		if onlyComments(d) {
			continue
		}
		docs = append(docs, strings.TrimSpace(d))
	}
	return docs
}

func onlyComments(doc string) bool {
	for _, line := range strings.Split(doc, "\n") {
		l := strings.TrimSpace(line)
		if l != "" && !strings.HasPrefix(l, "#") {
			return false
		}
	}
	return true
}

func kindOf(doc string) string {
	if m := kindLine.FindStringSubmatch(doc); m != nil {
		return m[1]
	}
	return ""
}

// helm's InstallOrder (pkg/releaseutil/kind_sorter.go), the kinds this chart can produce and
// their neighbours; unknown kinds go last.
var installOrder = []string{
	"PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy",
	"PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass",
	"PersistentVolume", "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole",
	"ClusterRoleList", "ClusterRoleBinding", "ClusterRoleBindingList", "Role", "RoleList",
	"RoleBinding", "RoleBindingList", "Service", "DaemonSet", "Pod", "ReplicationController",
	"ReplicaSet", "Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob",
	"IngressClass", "Ingress", "APIService",
}

func kindRank(kind string) int {
	for i, k := range installOrder {
		if k == kind {
			return i
		}
	}
	return len(installOrder)
}
