// Package reliability holds the rollout-level reliability tests of issue 8:
// rollouts under load against lbsim and HAProxy while the cloud API fails,
// slows down or throttles, while a target's health flaps, while
// ansible-playbook is killed and run again, and while hosts drain in
// parallel. See README.md for the scenarios and their figures.
//
// # min_healthy and parallel drains
//
// lb_drain checks min_healthy once, against the other targets' health as it
// reads it at its own start, before it deregisters anything. It does not
// coordinate with other lb_drain runs: with serial: N, the N drains of a
// batch run at the same time and each may see the others still healthy.
// What holds:
//
//   - A drain never starts when, at its start, fewer than min_healthy other
//     targets are healthy (the rollout stops with code min_healthy).
//   - With serial: 1, min_healthy holds for the whole rollout (as far as the
//     load balancer's health reports are current).
//   - With serial: N, at most N hosts of a batch are out at once, so the
//     healthy count never drops below (healthy before the batch) − N.
//     Choose N ≤ healthy − min_healthy and min_healthy holds too.
//
// What does not hold: with N > healthy − min_healthy, parallel drains can
// all pass their check and together take the pool below min_healthy, down
// to zero. TestConcurrency's 3 hosts, serial 3, min_healthy 2 scenarios
// show it.
package reliability
