// Command openaiclient is an unmodified OpenAI SDK user for the end-to-end test of `tokenhost run`: the
// client is configured only by OPENAI_BASE_URL and OPENAI_API_KEY from the environment. It prints
// "base <OPENAI_BASE_URL> <MY_LLM_URL>", then for each line on stdin: "go" sends one chat completion and prints
// "ok <n>" or "err <message>"; "exit <code>" exits with that code.
package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/openai/openai-go/v3"
)

func main() {
	client := openai.NewClient() // reads OPENAI_BASE_URL and OPENAI_API_KEY
	fmt.Println("base", os.Getenv("OPENAI_BASE_URL"), os.Getenv("MY_LLM_URL"))
	n := 0
	for sc := bufio.NewScanner(os.Stdin); sc.Scan(); {
		line := strings.TrimSpace(sc.Text())
		if code, ok := strings.CutPrefix(line, "exit "); ok {
			c, _ := strconv.Atoi(code)
			os.Exit(c)
		}
		n++
		_, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
			Model:    "fake-model",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello " + strconv.Itoa(n))},
		})
		if err != nil {
			fmt.Println("err", strings.ReplaceAll(err.Error(), "\n", " "))
			continue
		}
		fmt.Println("ok", n)
	}
}
