// Command tokenidp is bench/token.sh's identity provider: a loopback OAuth token endpoint (client
// credentials, internal/fakes) that prints its token URL on stdout and, when it gets SIGINT or SIGTERM, how
// many tokens it issued on stderr.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/tokenhost/tokenhost/internal/fakes"
)

func main() {
	clientID := flag.String("client-id", "bench", "the one client the endpoint knows")
	secretEnv := flag.String("secret-env", "CORP_SECRET", "the variable holding that client's secret")
	flag.Parse()
	secret := os.Getenv(*secretEnv)
	if secret == "" {
		fmt.Fprintf(os.Stderr, "tokenidp: %s is empty; set it to the client secret the benchmark's config uses\n", *secretEnv)
		os.Exit(2)
	}
	srv := fakes.NewOAuthServer(fakes.OAuthConfig{ClientID: *clientID, ClientSecret: secret})
	fmt.Println(srv.TokenURL())
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
	fmt.Fprintf(os.Stderr, "tokenidp: issued %d tokens\n", srv.Issued())
	srv.Close()
}
