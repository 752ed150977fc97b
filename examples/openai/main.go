// Command openai shows an agent calling a tokenhost provider with the official OpenAI Go SDK: the SDK
// keeps its own request building, retries and streaming; tokenhost's client supplies the credential.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/tokenhost/tokenhost/core"
	_ "github.com/tokenhost/tokenhost/plugins/builtin" // the built-in plugins, served by ServeIfPlugin
)

func main() {
	if core.ServeIfPlugin() { // this binary also serves tokenhost's built-in plugins
		return
	}
	ctx := context.Background()
	host, err := core.Open(ctx, core.Options{}) // tokenhost.yaml, or the embedded default
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer host.Close()

	answer, err := ask(ctx, host, "codex", "gpt-5", "Say hello in one word.")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(answer)
}

// ask sends one chat completion to provider through tokenhost's authenticated client.
func ask(ctx context.Context, host *core.Host, provider, model, question string) (string, error) {
	p, err := host.Provider(provider) // a handle that follows configuration reloads
	if err != nil {
		return "", err
	}
	base, err := p.Upstream(ctx)
	if err != nil {
		return "", err
	}
	client := openai.NewClient(
		option.WithHTTPClient(p.Client()),
		option.WithBaseURL(base),
		option.WithAPIKey("set-by-tokenhost"), // the wrapper replaces the Authorization header
	)
	resp, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:    model,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(question)},
	})
	if err != nil {
		return "", err
	}
	return resp.Choices[0].Message.Content, nil
}
