package app

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestPIDFile(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    int
		wantErr string
	}{
		{name: "pid", content: "123\n", want: 123},
		{name: "spaces", content: " 77 ", want: 77},
		{name: "zero would signal our group", content: "0", wantErr: `holds "0", not a process id`},
		{name: "negative would signal everyone", content: "-1", wantErr: `holds "-1", not a process id`},
		{name: "garbage", content: "demoapp", wantErr: `holds "demoapp", not a process id`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "pid")
			os.WriteFile(path, []byte(tt.content), 0o644)
			got, err := readPIDFile(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("readPIDFile() = %d, %v; want error %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("readPIDFile() = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

// TestRemovePIDFile checks that an exiting process leaves alone a pid file
// that a newer process has already replaced.
func TestRemovePIDFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pid")
	if err := writePIDFile(path, 200); err != nil {
		t.Fatal(err)
	}
	if err := removePIDFile(path, 100); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "200\n" {
		t.Fatalf("pid file = %q after removal by another pid, want 200", b)
	}
	if err := removePIDFile(path, 200); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid file after removal by its pid: %v, want gone", err)
	}
}

func TestRunning(t *testing.T) {
	if !running(os.Getpid()) {
		t.Error("running(own pid) = false")
	}
	// pid_max is at most 2^22 on Linux, so this pid cannot exist.
	if running(1 << 23) {
		t.Error("running(1<<23) = true")
	}
}

func TestTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	var lines []string
	for i := range 30 {
		lines = append(lines, "line "+strconv.Itoa(i))
	}
	os.WriteFile(path, []byte("old run\n"+strings.Join(lines, "\n")+"\n"), 0o644)

	tests := []struct {
		name   string
		offset int64
		want   string
	}{
		{"last lines", 0, strings.Join(lines[10:], "\n")},
		{"from offset", int64(len("old run\n") + len(strings.Join(lines[:28], "\n")) + 1), "line 28\nline 29"},
		{"nothing new", 1 << 20, "(nothing)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tail(path, tt.offset); got != tt.want {
				t.Errorf("tail(%d) = %q, want %q", tt.offset, got, tt.want)
			}
		})
	}
}
