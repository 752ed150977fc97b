package main

import (
	"context"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/tokenhost/tokenhost/core"
)

// askCodex sends one question to the ChatGPT Codex backend of a codex provider with the Responses API of
// the official OpenAI Go SDK, in the shape that backend accepts: instructions, a list of input items,
// store false, streamed.
func askCodex(ctx context.Context, host *core.Host, provider, model, question string) (string, error) {
	p, err := host.Provider(provider)
	if err != nil {
		return "", err
	}
	base, err := p.Upstream(ctx) // https://chatgpt.com/backend-api/codex
	if err != nil {
		return "", err
	}
	client := openai.NewClient(
		option.WithHTTPClient(p.Client()), // adds the bearer and ChatGPT-Account-ID
		option.WithBaseURL(base),
		option.WithAPIKey("set-by-tokenhost"),
	)
	// NewStreaming sends "stream": true; the backend answers nothing else.
	stream := client.Responses.NewStreaming(ctx, responses.ResponseNewParams{
		Model:        model,
		Instructions: openai.String("You are a concise assistant."), // required
		Input: responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{
			responses.ResponseInputItemParamOfMessage(question, responses.EasyInputMessageRoleUser),
		}}, // a list: a plain string is refused
		Store: openai.Bool(false), // required: the backend keeps no responses
	})
	defer stream.Close()
	var answer string
	for stream.Next() {
		if ev := stream.Current(); ev.Type == "response.completed" {
			answer = ev.Response.OutputText()
		}
	}
	return answer, stream.Err()
}
