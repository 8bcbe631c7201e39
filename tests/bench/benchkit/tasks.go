package benchkit

import "slices"

// TasksPerHost counts, for each of hosts, the tasks of a run that have a
// result for it in the json callback, whatever the outcome (ok, changed,
// skipped, failed), includes and the role's argument validation included,
// leaving out the tasks for which user returns true (the user's own deploy
// step, which every variant runs). A looped task counts once. A task that
// ran for another host only (delegated tasks report under the host they
// ran for) is not counted for these hosts.
func TasksPerHost(tasks []Task, hosts []string, user func(name string) bool) map[string]int {
	out := map[string]int{}
	for _, h := range hosts {
		out[h] = 0
	}
	for _, t := range tasks {
		if user != nil && user(t.Name) {
			continue
		}
		for h := range t.Hosts {
			if slices.Contains(hosts, h) {
				out[h]++
			}
		}
	}
	return out
}

// CountRange is the smallest and largest count of counts (0, 0 for none).
func CountRange(counts map[string]int) (lo, hi int) {
	first := true
	for _, n := range counts {
		if first || n < lo {
			lo = n
		}
		if first || n > hi {
			hi = n
		}
		first = false
	}
	return lo, hi
}
