package audit

import (
	"context"
	"testing"
)

var benchEvent = Event{
	Actor: "analyst1", Organisation: "RVGPC", Action: ActionQueryRun, Outcome: OutcomeOK,
	Workspace: "demo", Target: "q-0123456789", RemoteAddr: "127.0.0.1:53412",
	Details: map[string]any{"query_id": "q-0123456789", "cells": 48, "suppressed": 5, "sql_sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
}

// BenchmarkAppend is one caller appending: every record waits for its own fsync.
func BenchmarkAppend(b *testing.B) {
	l := openTest(b, Path(b.TempDir()))
	ctx := context.Background()
	for b.Loop() {
		if _, err := l.Append(ctx, benchEvent); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkAppendParallel is many concurrent requests: group commit shares each fsync.
func BenchmarkAppendParallel(b *testing.B) {
	l := openTest(b, Path(b.TempDir()))
	ctx := context.Background()
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := l.Append(ctx, benchEvent); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
