// Package synth generates realistic, deterministic synthetic data for a fictional integrated care
// system (North Riverside ICS): one CSV per controlling organisation, the sources' dataset specs,
// and a data dictionary generated from those specs.
//
// Determinism: every person has their own PCG streams seeded from (seed, stream, person index), so
// blocks of people are generated on all cores and written in person order; the same seed and
// population always give byte-identical files. Nothing reads the clock or iterates a map.
package synth

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/opensde/sde/sde"
)

// Options configures one generation run.
type Options struct {
	Seed   uint64
	People int    // 1 .. MaxPeople
	Out    string // directory, created if missing
	// Force overwrites files a previous run left in Out; without it such files are an error.
	Force bool
	// Progress receives human-readable progress lines; nil for none.
	Progress io.Writer
	// Workers is the number of generating goroutines; 0 means GOMAXPROCS. Output does not depend on it.
	Workers int
}

// FileSummary describes one written source.
type FileSummary struct {
	Dataset   string `json:"dataset"`
	File      string `json:"file"`
	Rows      int64  `json:"rows"`       // data rows, excluding the header
	DirtyRows int64  `json:"dirty_rows"` // rows deliberately made invalid
	Bytes     int64  `json:"bytes"`
}

// Summary reports what Generate wrote.
type Summary struct {
	Seed       uint64        `json:"seed"`
	People     int           `json:"people"`
	Files      []FileSummary `json:"files"`
	Dictionary []string      `json:"dictionary"` // file names of the data dictionary
}

// Rows returns the total number of data rows over all sources.
func (s Summary) Rows() int64 {
	var n int64
	for _, f := range s.Files {
		n += f.Rows
	}
	return n
}

// File returns the summary of the named dataset.
func (s Summary) File(dataset string) (FileSummary, bool) {
	for _, f := range s.Files {
		if f.Dataset == dataset {
			return f, true
		}
	}
	return FileSummary{}, false
}

// Dictionary file names written next to the CSVs.
const (
	DictionaryMarkdown = "data_dictionary.md"
	DictionaryJSON     = "data_dictionary.json"
)

// Datasets lists the source names in the order they are written.
func Datasets() []string {
	names := make([]string, nFiles)
	for i := range names {
		names[i] = datasetNames[i]
	}
	return names
}

var datasetNames = [nFiles]string{"patients", "gp_events", "hospital_admissions", "ae_attendances",
	"community_contacts", "social_care", "vcse_contacts", "opt_outs"}

const blockSize = 1024

type block struct {
	idx         int
	people      int
	out         [nFiles][]byte
	rows, dirty [nFiles]int64
}

// Generate writes the synthetic sources and the data dictionary into opt.Out.
func Generate(ctx context.Context, opt Options) (Summary, error) {
	if opt.People <= 0 || opt.People > MaxPeople {
		return Summary{}, sde.Errorf(sde.EINVALID, "The number of people must be between 1 and %d.", MaxPeople)
	}
	if opt.Out == "" {
		return Summary{}, sde.Errorf(sde.EINVALID, "An output directory is required.")
	}
	if err := os.MkdirAll(opt.Out, 0o755); err != nil {
		return Summary{}, sde.Wrap(err, sde.EINVALID, "Cannot create the output directory.")
	}
	names := make([]string, 0, nFiles+2)
	for _, n := range datasetNames {
		names = append(names, n+".csv")
	}
	names = append(names, DictionaryMarkdown, DictionaryJSON)
	if !opt.Force {
		for _, n := range names {
			if _, err := os.Lstat(filepath.Join(opt.Out, n)); err == nil {
				return Summary{}, sde.Errorf(sde.EINVALID, "The output directory already holds synthetic data (%s); use --force to overwrite it.", n)
			}
		}
	}
	progress := opt.Progress
	if progress == nil {
		progress = io.Discard
	}

	// Write to temporary names and rename at the end, so an interrupted run never leaves a
	// truncated file that looks complete.
	var (
		files [nFiles]*os.File
		bufs  [nFiles]*bufio.Writer
		temps []string
	)
	cleanup := func() {
		for _, f := range files {
			if f != nil {
				f.Close()
			}
		}
		for _, t := range temps {
			os.Remove(t)
		}
	}
	for i, n := range datasetNames {
		t := filepath.Join(opt.Out, "."+n+".csv.tmp")
		f, err := os.OpenFile(t, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
		if err != nil {
			cleanup()
			return Summary{}, sde.Wrap(err, sde.EINVALID, "Cannot write to the output directory.")
		}
		temps = append(temps, t)
		files[i] = f
		bufs[i] = bufio.NewWriterSize(f, 1<<20)
		h := bufs[i].AvailableBuffer()
		for j, c := range headers[i] {
			if j > 0 {
				h = append(h, ',')
			}
			h = append(h, c...)
		}
		bufs[i].Write(append(h, '\n'))
	}

	w := newWorld(opt.Seed, opt.People)
	sum := Summary{Seed: opt.Seed, People: opt.People, Files: make([]FileSummary, nFiles)}
	for i, n := range datasetNames {
		sum.Files[i] = FileSummary{Dataset: n, File: n + ".csv", Bytes: int64(bufs[i].Buffered())}
	}
	fmt.Fprintf(progress, "synth: %s, seed %d, %d people in %d LSOAs, %d MSOAs, %d practices\n",
		ICSName, opt.Seed, opt.People, w.nLSOA, w.nMSOA, w.nPrac)

	if err := run(ctx, w, opt, bufs[:], &sum, progress); err != nil {
		cleanup()
		return Summary{}, err
	}
	for i := range files {
		err := bufs[i].Flush()
		if cerr := files[i].Close(); err == nil {
			err = cerr
		}
		files[i] = nil
		if err != nil {
			cleanup()
			return Summary{}, sde.Wrap(err, sde.EINTERNAL, "Cannot write the synthetic data files.")
		}
	}
	for i, n := range datasetNames {
		if err := os.Rename(temps[i], filepath.Join(opt.Out, n+".csv")); err != nil {
			cleanup()
			return Summary{}, sde.Wrap(err, sde.EINTERNAL, "Cannot write the synthetic data files.")
		}
	}
	for _, f := range sum.Files {
		fmt.Fprintf(progress, "synth: wrote %-24s %10d rows (%d deliberately invalid)\n", f.File, f.Rows, f.DirtyRows)
	}
	md, js, err := dictionary(sum)
	if err != nil {
		return Summary{}, err
	}
	for _, d := range []struct {
		name string
		data []byte
	}{{DictionaryMarkdown, md}, {DictionaryJSON, js}} {
		if err := writeFileAtomic(filepath.Join(opt.Out, d.name), d.data); err != nil {
			return Summary{}, sde.Wrap(err, sde.EINTERNAL, "Cannot write the data dictionary.")
		}
		sum.Dictionary = append(sum.Dictionary, d.name)
	}
	fmt.Fprintf(progress, "synth: wrote %s and %s\n", DictionaryMarkdown, DictionaryJSON)
	return sum, nil
}

func writeFileAtomic(path string, data []byte) error {
	t := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(t, data, 0o644); err != nil {
		os.Remove(t)
		return err
	}
	return os.Rename(t, path)
}

// run generates blocks of people on all workers and writes them in order.
func run(ctx context.Context, w *world, opt Options, bufs []*bufio.Writer, sum *Summary, progress io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	nBlocks := (opt.People + blockSize - 1) / blockSize
	type job struct {
		idx  int
		done chan *block
	}
	jobs := make(chan job)
	pending := make(chan chan *block, 2*workers)
	pool := sync.Pool{New: func() any { return new(block) }}

	go func() {
		defer close(jobs)
		defer close(pending)
		for k := range nBlocks {
			c := make(chan *block, 1)
			select {
			case pending <- c:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- job{k, c}:
			case <-ctx.Done():
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := newGen(w)
			for j := range jobs {
				b := pool.Get().(*block)
				b.idx = j.idx
				for f := range b.out {
					b.out[f] = b.out[f][:0]
				}
				b.rows, b.dirty = [nFiles]int64{}, [nFiles]int64{}
				lo := j.idx * blockSize
				hi := min(opt.People, lo+blockSize)
				b.people = hi - lo
				g.b = b
				for i := lo; i < hi; i++ {
					g.person(i)
				}
				j.done <- b
			}
		}()
	}
	defer wg.Wait()

	done, nextReport := 0, 1
	var werr error
	for c := range pending {
		var b *block
		select {
		case b = <-c:
		case <-ctx.Done():
		}
		if b == nil {
			break
		}
		for f := range nFiles {
			if werr == nil {
				_, werr = bufs[f].Write(b.out[f])
			}
			sum.Files[f].Rows += b.rows[f]
			sum.Files[f].DirtyRows += b.dirty[f]
			sum.Files[f].Bytes += int64(len(b.out[f]))
		}
		done += b.people
		pool.Put(b)
		if werr != nil {
			cancel()
			break
		}
		for done*10 >= nextReport*opt.People && nextReport <= 10 {
			fmt.Fprintf(progress, "synth: %3d%% %d/%d people, %d gp_events rows, %d rows in all\n",
				nextReport*10, done, opt.People, sum.Files[fGPEvents].Rows, sum.Rows())
			nextReport++
		}
	}
	if werr != nil {
		return sde.Wrap(werr, sde.EINTERNAL, "Cannot write the synthetic data files.")
	}
	if err := ctx.Err(); err != nil || done != opt.People {
		if err == nil {
			err = errors.New("generation stopped early")
		}
		return sde.Wrap(err, sde.EUNAVAILABLE, "Synthetic data generation was cancelled.")
	}
	return nil
}
