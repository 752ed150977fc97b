package tests

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"slices"
	"strings"
	"testing"
)

// sdkContract is every name package sdk exports: what a plugin author calls or implements. The host's
// plumbing (handshake, TLS, plugin set, connection errors, option rules) lives under internal/, so
// `go doc ./sdk` shows a plugin author the contract alone; a name added here must be one they use.
var sdkContract = []string{
	"BadConfig", "Challenge", "CheckStorageKey", "CheckToken", "ErrNotInteractive", "Error", "Fingerprint",
	"IdentityEnv", "IdentityFile", "IdentitySource", "Info", "InsufficientScope", "Interactive", "Internal", "IsKind",
	"IsSecretKey", "Kind", "KindBadConfig", "KindInternal", "KindOf", "KindReauthRequired",
	"KindUnavailable", "Login", "LoginResult", "Logout", "MaxChallengeBytes", "MaxTokenBytes", "MinTokenBase64", "MinTokenHex",
	"NewRejection", "Options", "ParseChallenges", "Prompt", "ProtocolVersion", "ReauthRequired", "RedactString", "RedactTokens", "Rejection", "RejectionAware", "Serve",
	"Source", "Storage", "StorageUser", "Token", "UI", "UIFunc", "Unavailable",
}

// TestSDKExportsOnlyTheContract lists the package-level names sdk exports and compares them with
// sdkContract.
func TestSDKExportsOnlyTheContract(t *testing.T) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, "../sdk", func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range pkgs["sdk"].Files {
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil && d.Name.IsExported() {
					got = append(got, d.Name.Name)
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						if s.Name.IsExported() {
							got = append(got, s.Name.Name)
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							if n.IsExported() {
								got = append(got, n.Name)
							}
						}
					}
				}
			}
		}
	}
	slices.Sort(got)
	for _, n := range got {
		if !slices.Contains(sdkContract, n) {
			t.Errorf("sdk exports %s, which is not part of the plugin contract: move host plumbing under internal/, or add it to sdkContract if plugin authors use it", n)
		}
	}
	for _, n := range sdkContract {
		if _, found := slices.BinarySearch(got, n); !found {
			t.Errorf("sdk no longer exports %s, which plugins built against it use", n)
		}
	}
}
