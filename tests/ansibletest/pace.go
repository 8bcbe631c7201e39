package ansibletest

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// Pace is how fast ansible-playbook runs on this machine now: what a run
// costs before and after its tasks (start-up, inventory, exit), and what
// one small task costs. It differs by a factor of two or more from one day
// to the next on the same kind of machine, and more under load, so the
// end-to-end tests derive their deadlines from it instead of from numbers
// measured on a good day.
type Pace struct {
	Startup time.Duration
	PerTask time.Duration
}

func (p Pace) String() string {
	return fmt.Sprintf("ansible-playbook start-up and exit %s, %s a task", p.Startup.Round(10*time.Millisecond),
		p.PerTask.Round(10*time.Millisecond))
}

// paceTasks is how many tasks the measuring playbook runs: enough that the
// per-task figure is not one task's chance.
const paceTasks = 6

// The floor under a measured pace: a run measured at a quiet moment must
// not make the deadlines of a busier one tight.
const (
	minStartup = time.Second
	minPerTask = 250 * time.Millisecond
)

var pace struct {
	once sync.Once
	p    Pace
}

// MeasurePace runs a small playbook (paceTasks command tasks on localhost,
// as the role's steps run their modules) once per test binary and returns
// its pace, no less than a floor of 1 s start-up and 0.25 s a task.
func (e *Collection) MeasurePace(t testing.TB) Pace {
	t.Helper()
	pace.once.Do(func() {
		play := "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
		for i := range paceTasks {
			play += fmt.Sprintf("    - name: task %d\n      ansible.builtin.command: /bin/true\n      changed_when: false\n", i)
		}
		r := e.Playbook(t, play, Timeout(5*time.Minute))
		if r.ExitCode != 0 {
			t.Fatalf("measuring ansible-playbook's pace: exit %d\n%s", r.ExitCode, r.Stderr)
		}
		var inTasks time.Duration
		n := 0
		for _, p := range r.doc.Plays {
			for _, task := range p.Tasks {
				inTasks += task.Task.Duration.End.Sub(task.Task.Duration.Start)
				n++
			}
		}
		if n != paceTasks {
			t.Fatalf("measuring ansible-playbook's pace: %d tasks in the json callback's document, want %d", n, paceTasks)
		}
		pace.p = Pace{Startup: max(r.Elapsed-inTasks, minStartup), PerTask: max(inTasks/paceTasks, minPerTask)}
	})
	if pace.p == (Pace{}) {
		t.Fatal("measuring ansible-playbook's pace failed in an earlier test")
	}
	t.Logf("pace: %s", pace.p)
	return pace.p
}
