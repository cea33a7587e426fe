package workflow

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
)

// Task is one node of the DAG.
type Task struct {
	ID      string            // unique in the graph; [A-Za-z0-9._/-]
	Name    string            // the step, shown in progress ("align")
	Script  string            // bash; reads $IN_<name>, writes $OUT_<name>
	Inputs  map[string]string // name -> absolute path of a file the task reads
	Outputs map[string]string // name -> absolute final path of a file the task writes
	Deps    []string          // task IDs that must finish first (outputs->inputs links are added automatically)
	Threads int               // cores, >= 1
	MemMB   int               // memory in MiB
	Tools   []string          // tools whose versions key the call cache
	Env     map[string]string // extra environment (part of the cache key)
}

// Graph is a validated DAG of tasks.
type Graph struct {
	tasks map[string]*Task
	order []string // insertion order
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9._/-]+$`)
var namePattern = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// ErrCycle is returned by Validate for a graph with a dependency cycle.
var ErrCycle = errors.New("dependency cycle")

// NewGraph returns an empty graph.
func NewGraph() *Graph { return &Graph{tasks: map[string]*Task{}} }

// Add adds t; its ID must be new and well formed.
func (g *Graph) Add(t *Task) error {
	if !idPattern.MatchString(t.ID) {
		return fmt.Errorf("workflow: task id %q: only letters, digits and ._/- allowed", t.ID)
	}
	if _, dup := g.tasks[t.ID]; dup {
		return fmt.Errorf("workflow: task id %q added twice", t.ID)
	}
	for n, p := range t.Inputs {
		if !namePattern.MatchString(n) || !filepath.IsAbs(p) {
			return fmt.Errorf("workflow: task %s: input %q=%q: name must be [A-Za-z0-9_], path absolute", t.ID, n, p)
		}
	}
	for n, p := range t.Outputs {
		if !namePattern.MatchString(n) || !filepath.IsAbs(p) {
			return fmt.Errorf("workflow: task %s: output %q=%q: name must be [A-Za-z0-9_], path absolute", t.ID, n, p)
		}
	}
	if t.Threads < 1 {
		t.Threads = 1
	}
	g.tasks[t.ID] = t
	g.order = append(g.order, t.ID)
	return nil
}

// MustAdd is Add for graphs built by code, where an error is a programming bug.
func (g *Graph) MustAdd(t *Task) *Task {
	if err := g.Add(t); err != nil {
		panic(err)
	}
	return t
}

// Len is the number of tasks.
func (g *Graph) Len() int { return len(g.tasks) }

// Task returns the task with id, or nil.
func (g *Graph) Task(id string) *Task { return g.tasks[id] }

// Tasks returns the tasks in insertion order.
func (g *Graph) Tasks() []*Task {
	out := make([]*Task, 0, len(g.order))
	for _, id := range g.order {
		out = append(out, g.tasks[id])
	}
	return out
}

// Validate links outputs to the inputs that read them, and checks that
// every dependency exists, no file is written by two tasks, and there is no
// cycle. It returns the tasks in a topological order.
func (g *Graph) Validate() ([]*Task, error) {
	producer := map[string]string{}
	for _, id := range g.order {
		for _, p := range g.tasks[id].Outputs {
			if other, dup := producer[p]; dup {
				return nil, fmt.Errorf("workflow: %s is written by both %s and %s", p, other, id)
			}
			producer[p] = id
		}
	}
	for _, id := range g.order {
		t := g.tasks[id]
		seen := map[string]bool{}
		deps := t.Deps[:0:0]
		add := func(d string) {
			if !seen[d] && d != id {
				seen[d] = true
				deps = append(deps, d)
			}
		}
		for _, d := range t.Deps {
			if _, ok := g.tasks[d]; !ok {
				return nil, fmt.Errorf("workflow: task %s depends on unknown task %s", id, d)
			}
			add(d)
		}
		for _, p := range t.Inputs {
			if d, ok := producer[p]; ok {
				add(d)
			}
		}
		sort.Strings(deps)
		t.Deps = deps
	}
	// Kahn's algorithm, stable in insertion order.
	indeg := map[string]int{}
	children := map[string][]string{}
	for _, id := range g.order {
		indeg[id] += 0
		for _, d := range g.tasks[id].Deps {
			indeg[id]++
			children[d] = append(children[d], id)
		}
	}
	var queue, topo []string
	for _, id := range g.order {
		if indeg[id] == 0 {
			queue = append(queue, id)
		}
	}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		topo = append(topo, id)
		for _, c := range children[id] {
			if indeg[c]--; indeg[c] == 0 {
				queue = append(queue, c)
			}
		}
	}
	if len(topo) != len(g.order) {
		return nil, fmt.Errorf("workflow: %w among %d tasks", ErrCycle, len(g.order)-len(topo))
	}
	out := make([]*Task, len(topo))
	for i, id := range topo {
		out[i] = g.tasks[id]
	}
	return out, nil
}
