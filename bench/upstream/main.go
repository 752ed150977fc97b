// Command upstream is bench/proxy.sh's loopback API: a small JSON answer on every path, and on /sse a
// server-sent event stream of 200 chunks, each flushed as it is written. With -key it answers 401 to a
// request whose Authorization is not "Bearer <key>", so a proxy that fails to inject the credential shows
// up as errors instead of fast answers.
package main

import (
	"flag"
	"log"
	"net/http"
	"strconv"
	"strings"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9100", "address to listen on")
	key := flag.String("key", "", "when set, the bearer token every request must carry")
	chunks := flag.Int("chunks", 200, "events in one /sse answer")
	flag.Parse()
	want := ""
	if *key != "" {
		want = "Bearer " + *key
	}
	body := []byte(`{"id":"chatcmpl-bench","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}`)
	event := []byte("data: {\"choices\":[{\"delta\":{\"content\":\"tok\"}}]}\n\n")
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if want != "" && r.Header.Get("Authorization") != want {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/sse") {
			stream(w, event, *chunks)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	})
	log.Fatal(http.ListenAndServe(*listen, nil))
}

// stream writes n events, flushing each; X-Accel-Buffering tells nginx not to buffer the answer, as
// streaming APIs do.
func stream(w http.ResponseWriter, event []byte, n int) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	f := w.(http.Flusher)
	for range n {
		if _, err := w.Write(event); err != nil {
			return
		}
		f.Flush()
	}
	_, _ = w.Write([]byte("data: [DONE]\n\n"))
}
