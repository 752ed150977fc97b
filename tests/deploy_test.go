package tests

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/core/config"
)

// deployFile reads deploy/name from the module root.
func deployFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "deploy", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Every file in deploy/ is shown in docs/deploy.md exactly as shipped, in a fenced block.
func TestDeployFilesAreInTheDoc(t *testing.T) {
	doc, err := os.ReadFile("../docs/deploy.md")
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir("../deploy")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 4 {
		t.Fatalf("deploy/ has %d files, want the unit, the plist, the Dockerfile and the sidecar", len(entries))
	}
	for _, e := range entries {
		if !bytes.Contains(doc, []byte("\n"+deployFile(t, e.Name())+"```\n")) {
			t.Errorf("docs/deploy.md does not show deploy/%s as it is; paste the file into its fenced block", e.Name())
		}
	}
}

// The systemd user unit runs `tokenhost serve`, reloads with SIGHUP, waits longer than the default
// shutdown grace, and passes `systemd-analyze verify` where systemd is installed.
func TestDeploySystemdUnit(t *testing.T) {
	unit := deployFile(t, "tokenhost.service")
	keys := map[string]string{}
	section := ""
	for _, line := range strings.Split(unit, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("unit line %q is not key=value inside a section", line)
			}
			keys[section+k] = v
		}
	}
	if !strings.HasSuffix(keys["[Service]ExecStart"], "/tokenhost serve") || !strings.Contains(keys["[Service]ExecReload"], "-HUP $MAINPID") ||
		keys["[Service]TimeoutStopSec"] != "45s" || keys["[Install]WantedBy"] != "default.target" {
		t.Fatalf("unit keys %v", keys)
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze is not installed: the unit's syntax was checked here, not by systemd")
		return
	}
	needBinaries(t)
	// verify insists that ExecStart's binary exists: point it at the one this test run built.
	dir := t.TempDir()
	path := filepath.Join(dir, "tokenhost.service")
	if err := os.WriteFile(path, []byte(strings.Replace(unit, "%h/go/bin/tokenhost", bins.tokenhost, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || strings.Contains(string(out), "tokenhost.service") {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// plistValue is one value of a property list, as decoded by decodePlist.
type plistValue struct {
	kind  string // string, integer, true, false, array, dict
	text  string
	items []plistValue
	dict  map[string]plistValue
}

// decodePlist reads one plist value starting at the next element of d.
func decodePlist(d *xml.Decoder, start xml.StartElement) (plistValue, error) {
	v := plistValue{kind: start.Name.Local}
	var key string
	for {
		tok, err := d.Token()
		if err != nil {
			return v, err
		}
		switch tok := tok.(type) {
		case xml.CharData:
			v.text += string(tok)
		case xml.EndElement:
			v.text = strings.TrimSpace(v.text)
			return v, nil
		case xml.StartElement:
			if tok.Name.Local == "key" && v.kind == "dict" {
				var k string
				if err := d.DecodeElement(&k, &tok); err != nil {
					return v, err
				}
				key = k
				continue
			}
			child, err := decodePlist(d, tok)
			if err != nil {
				return v, err
			}
			switch v.kind {
			case "dict":
				if key == "" {
					return v, errors.New("a dict value without a key")
				}
				if v.dict == nil {
					v.dict = map[string]plistValue{}
				}
				v.dict[key], key = child, ""
			case "array", "plist":
				v.items = append(v.items, child)
			default:
				return v, errors.New("element inside " + v.kind)
			}
		}
	}
}

// The launchd plist is well-formed XML with the label of its file name, runs `tokenhost serve`, and is
// kept alive only after a failure.
func TestDeployLaunchdPlist(t *testing.T) {
	d := xml.NewDecoder(strings.NewReader(deployFile(t, "com.tokenhost.serve.plist")))
	var root plistValue
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("plist is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "plist" {
			if root, err = decodePlist(d, se); err != nil {
				t.Fatalf("plist: %v", err)
			}
		}
	}
	if len(root.items) != 1 || root.items[0].kind != "dict" {
		t.Fatalf("plist holds %d values, want one dict", len(root.items))
	}
	top := root.items[0].dict
	args := top["ProgramArguments"].items
	if top["Label"].text != "com.tokenhost.serve" || len(args) != 2 || !filepath.IsAbs(args[0].text) || args[1].text != "serve" {
		t.Fatalf("Label %q, ProgramArguments %+v", top["Label"].text, args)
	}
	if top["RunAtLoad"].kind != "true" || top["KeepAlive"].dict["SuccessfulExit"].kind != "false" || top["Umask"].text != "63" {
		t.Fatalf("RunAtLoad %q, KeepAlive %+v, Umask %q", top["RunAtLoad"].kind, top["KeepAlive"], top["Umask"].text)
	}
}

// The Dockerfile builds ./cmd/tokenhost without cgo in a Go image of the module's Go version and copies
// that binary, and nothing else, onto a distroless static base where the entrypoint runs it as non-root.
// No Docker engine is needed: the stages are read, and the build's package graph is resolved with cgo off.
func TestDeployDockerfile(t *testing.T) {
	df := deployFile(t, "Dockerfile")
	var from, run, copies []string
	var entry, user string
	for _, line := range strings.Split(df, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch f[0] {
		case "FROM":
			from = append(from, strings.Join(f[1:], " "))
		case "RUN":
			run = append(run, strings.Join(f[1:], " "))
		case "COPY":
			copies = append(copies, strings.Join(f[1:], " "))
		case "ENTRYPOINT":
			entry = strings.Join(f[1:], " ")
		case "USER":
			user = f[1]
		case "WORKDIR", "CMD", "EXPOSE", "ENV", "ARG", "LABEL":
		default:
			t.Errorf("unexpected instruction %q", line)
		}
	}
	gomod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if len(from) != 2 || len(goVersion) != 2 || from[0] != "golang:"+string(goVersion[1])+" AS build" ||
		!(strings.HasPrefix(from[1], "gcr.io/distroless/static") || from[1] == "scratch") {
		t.Fatalf("FROM lines %q; want golang:<go.mod's version> AS build, then a distroless static or scratch base", from)
	}
	build := run[len(run)-1]
	const out = "/out/tokenhost"
	if !strings.HasPrefix(build, "CGO_ENABLED=0 go build") || !strings.HasSuffix(build, "-o "+out+" ./cmd/tokenhost") {
		t.Fatalf("last RUN %q; want a CGO_ENABLED=0 go build of ./cmd/tokenhost to %s", build, out)
	}
	last := copies[len(copies)-1]
	dst := strings.TrimPrefix(last, "--from=build "+out+" ")
	if dst == last || entry != `["`+dst+`"]` || !strings.HasPrefix(user, "nonroot") {
		t.Fatalf("COPY %q, ENTRYPOINT %s, USER %q: the entrypoint must run the binary the build stage made, as non-root", last, entry, user)
	}
	if _, err := os.Stat(filepath.Join("..", "cmd", "tokenhost", "main.go")); err != nil {
		t.Fatal(err)
	}
	list := exec.Command("go", "list", "-e", "-deps", "-f", "{{with .Error}}{{.}}{{end}}{{range .CgoFiles}}cgo: {{.}}{{end}}", "./cmd/tokenhost")
	list.Dir = ".."
	list.Env = append(os.Environ(), "CGO_ENABLED=0")
	got, err := list.CombinedOutput()
	if err != nil || strings.TrimSpace(string(got)) != "" {
		t.Fatalf("./cmd/tokenhost does not build without cgo: %v\n%s", err, got)
	}
}

// k8sObject is what the sidecar test reads of a Kubernetes manifest.
type k8sObject struct {
	Kind     string                `yaml:"kind"`
	Metadata struct{ Name string } `yaml:"metadata"`
	Data     map[string]string     `yaml:"data"`
	Spec     struct {
		Template struct {
			Spec struct {
				ServiceAccountName string         `yaml:"serviceAccountName"`
				InitContainers     []k8sContainer `yaml:"initContainers"`
				Containers         []k8sContainer `yaml:"containers"`
				Volumes            []struct {
					Name      string `yaml:"name"`
					ConfigMap *struct {
						Name string `yaml:"name"`
					} `yaml:"configMap"`
					Projected *struct {
						Sources []struct {
							ServiceAccountToken *struct {
								Audience string `yaml:"audience"`
								Path     string `yaml:"path"`
							} `yaml:"serviceAccountToken"`
						} `yaml:"sources"`
					} `yaml:"projected"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type k8sContainer struct {
	Name          string   `yaml:"name"`
	RestartPolicy string   `yaml:"restartPolicy"`
	Args          []string `yaml:"args"`
	VolumeMounts  []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
	Env []struct {
		Name  string `yaml:"name"`
		Value string `yaml:"value"`
	} `yaml:"env"`
}

// The sidecar manifests parse; the ConfigMap's tokenhost.yaml loads as tokenhost serve loads it; the
// provider's subject token is the projected service-account token the sidecar mounts, and serve reads
// the configuration where the ConfigMap is mounted.
func TestDeployKubernetesSidecar(t *testing.T) {
	dec := yaml.NewDecoder(strings.NewReader(deployFile(t, "k8s-sidecar.yaml")))
	objs := map[string]k8sObject{}
	for {
		var o k8sObject
		err := dec.Decode(&o)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("k8s-sidecar.yaml: %v", err)
		}
		objs[o.Kind] = o
	}
	cm, dep := objs["ConfigMap"], objs["Deployment"]
	if _, ok := objs["ServiceAccount"]; !ok || len(objs) != 3 {
		t.Fatalf("want a ServiceAccount, a ConfigMap and a Deployment, got %v", objs)
	}
	dir := t.TempDir()
	cfg, err := config.Parse([]byte(cm.Data["tokenhost.yaml"]), filepath.Join(dir, "tokenhost.yaml"), config.Sources{Builtins: core.Builtins(), Dir: dir})
	if err != nil {
		t.Fatalf("the ConfigMap's tokenhost.yaml does not load: %v", err)
	}
	corp := cfg.Provider("corp")
	if corp == nil || corp.Plugin != "gateway" || corp.Options["grant"] != "token_exchange" {
		t.Fatalf("provider corp: %+v", corp)
	}
	pod := dep.Spec.Template.Spec
	if len(pod.InitContainers) != 1 || pod.InitContainers[0].RestartPolicy != "Always" || pod.ServiceAccountName != objs["ServiceAccount"].Metadata.Name {
		t.Fatalf("want tokenhost as a native sidecar of the pod running as the ServiceAccount: %+v", pod)
	}
	side := pod.InitContainers[0]
	mounts := map[string]string{}
	for _, m := range side.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	var tokenFile, configFile string
	for _, v := range pod.Volumes {
		switch {
		case v.ConfigMap != nil && v.ConfigMap.Name == cm.Metadata.Name:
			configFile = mounts[v.Name] + "/tokenhost.yaml"
		case v.Projected != nil && len(v.Projected.Sources) == 1 && v.Projected.Sources[0].ServiceAccountToken != nil:
			tokenFile = mounts[v.Name] + "/" + v.Projected.Sources[0].ServiceAccountToken.Path
		}
	}
	if tokenFile == "/" || corp.Options["subject_token_file"] != tokenFile {
		t.Fatalf("subject_token_file %v is not the projected token the sidecar mounts (%s)", corp.Options["subject_token_file"], tokenFile)
	}
	if strings.Join(side.Args, " ") != "serve --config "+configFile {
		t.Fatalf("sidecar args %q do not read the mounted ConfigMap %s", side.Args, configFile)
	}
	baseURL := ""
	for _, e := range pod.Containers[0].Env {
		if e.Name == "OPENAI_BASE_URL" {
			baseURL = e.Value
		}
	}
	if baseURL != "http://"+cfg.Server.Listen+"/corp" {
		t.Fatalf("the agent's OPENAI_BASE_URL %q is not the sidecar's route for corp on %s", baseURL, cfg.Server.Listen)
	}
}
