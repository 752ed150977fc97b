// Command bareproxy is bench/proxy.sh's baseline: a bare httputil.ReverseProxy that forwards every
// request to -upstream with a static Authorization header, on a transport keeping 64 idle connections
// per host (-pool 64, like tokenhost's default) or on http.DefaultTransport (-pool 0).
package main

import (
	"flag"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9101", "address to listen on")
	upstream := flag.String("upstream", "http://127.0.0.1:9100", "where requests go")
	auth := flag.String("auth", "", "the Authorization header value every forwarded request carries")
	pool := flag.Int("pool", 64, "idle connections kept per upstream host; 0 uses http.DefaultTransport as it is")
	flag.Parse()
	target, err := url.Parse(*upstream)
	if err != nil {
		log.Fatalf("-upstream %q: %v", *upstream, err)
	}
	var tr http.RoundTripper = http.DefaultTransport
	if *pool > 0 {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = *pool
		tr = t
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Header.Set("Authorization", *auth)
		},
		Transport: tr,
	}
	log.Fatal(http.ListenAndServe(*listen, rp))
}
