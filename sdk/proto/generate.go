// Package proto holds the generated gRPC code of the tokenhost plugin protocol.
package proto

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative tokenhost.proto
