// Command bundle-validate validates an OLM registry+v1 bundle directory
// (manifests/ + metadata/) with the real operator-framework validators and
// prints a JSON report of every error and warning, each tagged with the
// validator that raised it.
//
// It runs what `operator-sdk bundle validate DIR --select-optional
// suite=operatorframework --optional-values=k8s-version=X` runs (operator-sdk
// internal/cmd/operator-sdk/bundle/validate and internal/registry):
//
//	bundle-format          operator-registry pkg/lib/bundle ValidateBundleFormat
//	                       (manifests/ and metadata/ present, annotations.yaml
//	                       keys, media type)
//	bundle-objects         every non-CSV/CRD object is a kind registry+v1
//	                       supports, and its metadata is valid
//	bundle                 api validation.BundleValidator
//	csv                    api validation.ClusterServiceVersionValidator
//	crd                    api validation.CustomResourceDefinitionValidator
//	operatorhubv2          api validation.OperatorHubV2Validator   (suite)
//	capabilities           api validation.StandardCapabilitiesValidator (suite)
//	categories             api validation.StandardCategoriesValidator (suite)
//	alpha-deprecated-apis  api validation.AlphaDeprecatedAPIsValidator (suite)
//	good-practices         api validation.GoodPracticesValidator (suite)
//
// Like operator-sdk, the bundle is loaded from its manifests directory (the
// one annotations.yaml names), so the compressed-size check counts exactly
// what goes into the bundle image. One deliberate difference: operator-sdk
// never hands metadata/annotations.yaml to the optional validators; we copy
// its package, channels and default channel into the bundle (as the api's own
// loader does when it sees the file), so good-practices checks channel names.
//
// Exit codes: 0 clean; 1 any error, or any warning unless --allow-warnings;
// 2 usage error.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	apimanifests "github.com/operator-framework/api/pkg/manifests"
	apivalidation "github.com/operator-framework/api/pkg/validation"
	apierrors "github.com/operator-framework/api/pkg/validation/errors"
	interfaces "github.com/operator-framework/api/pkg/validation/interfaces"
	registrybundle "github.com/operator-framework/operator-registry/pkg/lib/bundle"
	"github.com/sirupsen/logrus"
	k8svalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"
)

// Finding is one error or warning.
type Finding struct {
	Validator string `json:"validator"`
	Level     string `json:"level"`
	Manifest  string `json:"manifest,omitempty"`
	Type      string `json:"type,omitempty"`
	Field     string `json:"field,omitempty"`
	BadValue  string `json:"badValue,omitempty"`
	Detail    string `json:"detail,omitempty"`
	Message   string `json:"message"`
}

// Report is what the command prints.
type Report struct {
	BundleDir     string    `json:"bundleDir"`
	BundleName    string    `json:"bundleName,omitempty"`
	K8sVersion    string    `json:"k8sVersion,omitempty"`
	Validators    []string  `json:"validators"`
	Errors        []Finding `json:"errors"`
	Warnings      []Finding `json:"warnings"`
	AllowWarnings bool      `json:"allowWarnings"`
	Passed        bool      `json:"passed"`
}

// suiteValidators are operator-sdk's optional validators labelled
// suite=operatorframework, in operator-sdk's order.
var suiteValidators = []namedValidator{
	{"operatorhubv2", apivalidation.OperatorHubV2Validator},
	{"capabilities", apivalidation.StandardCapabilitiesValidator},
	{"categories", apivalidation.StandardCategoriesValidator},
	{"alpha-deprecated-apis", apivalidation.AlphaDeprecatedAPIsValidator},
	{"good-practices", apivalidation.GoodPracticesValidator},
}

// extraValidators can be added with --extra; none of them needs the network.
var extraValidators = map[string]interfaces.Validator{
	// Deprecated in favour of operatorhubv2+capabilities+categories, but it
	// still checks a few more OperatorHub fields.
	"operatorhub": apivalidation.OperatorHubValidator, //nolint:staticcheck
}

type namedValidator struct {
	name string
	v    interfaces.Validator
}

const maxValueLen = 300

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bundle-validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	k8sVersion := fs.String("k8s-version", "1.35", "Kubernetes version the bundle targets; passed as the k8s-version optional value (deprecated/removed API checks). Empty: use the CSV's minKubeVersion")
	allowWarnings := fs.Bool("allow-warnings", false, "exit 0 when there are warnings but no errors")
	extra := fs.String("extra", "", "comma-separated extra optional validators to run as well: "+strings.Join(keys(extraValidators), ","))
	format := fs.String("output", "json", "json or text")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: bundle-validate [flags] BUNDLE_DIR\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	if *format != "json" && *format != "text" {
		fmt.Fprintf(stderr, "bundle-validate: --output must be json or text\n")
		return 2
	}
	var extras []namedValidator
	for _, name := range strings.Split(*extra, ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		v, ok := extraValidators[name]
		if !ok {
			fmt.Fprintf(stderr, "bundle-validate: unknown --extra validator %q (known: %s)\n", name, strings.Join(keys(extraValidators), ","))
			return 2
		}
		extras = append(extras, namedValidator{name, v})
	}
	dir := fs.Arg(0)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		fmt.Fprintf(stderr, "bundle-validate: %s is not a directory\n", dir)
		return 2
	}

	rep := Validate(dir, *k8sVersion, extras)
	rep.AllowWarnings = *allowWarnings
	rep.Passed = len(rep.Errors) == 0 && (*allowWarnings || len(rep.Warnings) == 0)

	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintf(stderr, "bundle-validate: %v\n", err)
			return 2
		}
	} else {
		printText(stdout, rep)
	}
	if rep.Passed {
		return 0
	}
	return 1
}

// Validate runs every validator on the bundle in dir.
func Validate(dir, k8sVersion string, extras []namedValidator) *Report {
	rep := &Report{BundleDir: dir, K8sVersion: k8sVersion, Errors: []Finding{}, Warnings: []Finding{}}
	add := func(validator string, results ...apierrors.ManifestResult) {
		for _, r := range results {
			for _, e := range r.Errors {
				rep.Errors = append(rep.Errors, toFinding(validator, r.Name, e))
			}
			for _, e := range r.Warnings {
				rep.Warnings = append(rep.Warnings, toFinding(validator, r.Name, e))
			}
		}
	}
	addErr := func(validator, manifest string, err error) {
		rep.Errors = append(rep.Errors, Finding{Validator: validator, Level: "error", Manifest: manifest, Detail: err.Error(), Message: truncate(err.Error(), 4000)})
	}

	// 1. Directory layout and annotations.yaml (operator-registry).
	rep.Validators = append(rep.Validators, "bundle-format")
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	formatValidator := registrybundle.NewImageValidator(nil, logrus.NewEntry(quiet))
	if err := formatValidator.ValidateBundleFormat(dir); err != nil {
		if verr, ok := err.(registrybundle.ValidationError); ok {
			for _, e := range verr.Errors {
				addErr("bundle-format", "", e)
			}
		} else {
			addErr("bundle-format", "", err)
		}
	}

	// 2. Load the bundle from its manifests directory; take package and
	// channels from metadata/annotations.yaml.
	rep.Validators = append(rep.Validators, "load")
	annotations, annErr := readAnnotations(dir)
	manifestsDir := filepath.Join(dir, registrybundle.ManifestsDir)
	if d := annotations[registrybundle.ManifestsLabel]; d != "" {
		manifestsDir = filepath.Join(dir, d)
	}
	bundle, err := apimanifests.GetBundleFromDir(manifestsDir)
	if err != nil || bundle == nil {
		if err == nil {
			err = fmt.Errorf("no bundle found in %s", manifestsDir)
		}
		addErr("load", "", err)
		return rep
	}
	if annErr != nil {
		addErr("load", bundle.Name, annErr)
	}
	if bundle.Package == "" {
		bundle.Package = annotations[registrybundle.PackageLabel]
	}
	if len(bundle.Channels) == 0 && annotations[registrybundle.ChannelsLabel] != "" {
		bundle.Channels = strings.Split(annotations[registrybundle.ChannelsLabel], ",")
	}
	if bundle.DefaultChannel == "" {
		bundle.DefaultChannel = annotations[registrybundle.ChannelDefaultLabel]
	}
	rep.BundleName = bundle.Name
	mediaType := registrybundle.RegistryV1Type
	if mt, err := registrybundle.GetMediaType(manifestsDir); err == nil {
		mediaType = mt
	}

	// 3. Non-CSV/CRD objects: supported kind and valid metadata.
	rep.Validators = append(rep.Validators, "bundle-objects")
	for _, u := range bundle.Objects {
		gvk := u.GroupVersionKind()
		if gvk.Kind == "ClusterServiceVersion" || gvk.Kind == "CustomResourceDefinition" {
			continue
		}
		if supported, _ := registrybundle.IsSupported(gvk.Kind); mediaType == registrybundle.RegistryV1Type && !supported {
			add("bundle-objects", apierrors.ManifestResult{Name: bundle.Name, Errors: []apierrors.Error{
				apierrors.ErrInvalidBundle(fmt.Sprintf("kind %s is not supported in a %s bundle (object %q)", gvk.Kind, mediaType, u.GetName()), gvk.String()),
			}})
			continue
		}
		noPrefixCheck := func(string, bool) []string { return nil }
		if errs := k8svalidation.ValidateObjectMetaAccessor(u, false, noPrefixCheck, field.NewPath("metadata")); len(errs) > 0 {
			add("bundle-objects", apierrors.ManifestResult{Name: bundle.Name, Errors: []apierrors.Error{
				apierrors.ErrFailedValidation(fmt.Sprintf("%s %q: %s", gvk.Kind, u.GetName(), errs.ToAggregate()), u.GetName()),
			}})
		}
	}

	// 4. Default validators, as operator-sdk calls them.
	rep.Validators = append(rep.Validators, "bundle")
	add("bundle", apivalidation.BundleValidator.Validate(bundle)...)
	rep.Validators = append(rep.Validators, "csv")
	if bundle.CSV != nil {
		add("csv", apivalidation.ClusterServiceVersionValidator.Validate(bundle.CSV)...)
	} else {
		addErr("csv", bundle.Name, fmt.Errorf("no ClusterServiceVersion in bundle"))
	}
	rep.Validators = append(rep.Validators, "crd")
	var crds []interface{}
	for _, crd := range bundle.V1beta1CRDs {
		crds = append(crds, crd)
	}
	for _, crd := range bundle.V1CRDs {
		crds = append(crds, crd)
	}
	if len(crds) > 0 {
		add("crd", apivalidation.CustomResourceDefinitionValidator.Validate(crds...)...)
	}

	// 5. Optional validators of suite=operatorframework, with the objects and
	// optional values operator-sdk passes them.
	objs := bundle.ObjectsToValidate()
	for _, obj := range bundle.Objects {
		objs = append(objs, obj)
	}
	optionalValues := map[string]string{}
	if k8sVersion != "" {
		optionalValues["k8s-version"] = k8sVersion
	}
	objs = append(objs, optionalValues)
	for _, nv := range append(append([]namedValidator{}, suiteValidators...), extras...) {
		rep.Validators = append(rep.Validators, nv.name)
		add(nv.name, nv.v.Validate(objs...)...)
	}
	return rep
}

// readAnnotations returns the annotations of metadata/annotations.yaml, or
// none when the file is missing (bundle-format reports that).
func readAnnotations(dir string) (map[string]string, error) {
	path := filepath.Join(dir, registrybundle.MetadataDir, registrybundle.AnnotationsFile)
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return map[string]string{}, nil
	} else if err != nil {
		return map[string]string{}, err
	}
	var f struct {
		Annotations map[string]string `json:"annotations"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		return map[string]string{}, fmt.Errorf("%s: %v", path, err)
	}
	if f.Annotations == nil {
		f.Annotations = map[string]string{}
	}
	return f.Annotations, nil
}

func toFinding(validator, manifest string, e apierrors.Error) Finding {
	f := Finding{
		Validator: validator,
		Level:     string(e.Level),
		Manifest:  manifest,
		Type:      string(e.Type),
		Field:     e.Field,
		Detail:    e.Detail,
	}
	switch v := e.BadValue.(type) {
	case nil:
	case string:
		f.BadValue = truncate(v, maxValueLen)
	case fmt.Stringer:
		f.BadValue = truncate(v.String(), maxValueLen)
	default:
		if b, err := json.Marshal(v); err == nil {
			f.BadValue = truncate(string(b), maxValueLen)
		} else {
			f.BadValue = truncate(fmt.Sprintf("%v", v), maxValueLen)
		}
	}
	// e.Error() embeds the whole BadValue, which can be an entire object:
	// build the message from the truncated value instead.
	msg := e.Detail
	switch {
	case f.Field != "" && f.BadValue != "":
		msg = fmt.Sprintf("Field %s, Value %s: %s", f.Field, f.BadValue, e.Detail)
	case f.Field != "":
		msg = fmt.Sprintf("Field %s: %s", f.Field, e.Detail)
	case f.BadValue != "":
		msg = fmt.Sprintf("Value %s: %s", f.BadValue, e.Detail)
	}
	f.Message = truncate(strings.TrimSuffix(msg, ": "), 4000)
	return f
}

func printText(w io.Writer, rep *Report) {
	for _, f := range rep.Errors {
		fmt.Fprintf(w, "ERROR   [%s] %s: %s\n", f.Validator, f.Manifest, f.Message)
	}
	for _, f := range rep.Warnings {
		fmt.Fprintf(w, "WARNING [%s] %s: %s\n", f.Validator, f.Manifest, f.Message)
	}
	status := "passed"
	if !rep.Passed {
		status = "FAILED"
	}
	fmt.Fprintf(w, "%s: %d error(s), %d warning(s) from %s\n", status, len(rep.Errors), len(rep.Warnings), strings.Join(rep.Validators, ","))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func keys(m map[string]interfaces.Validator) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
