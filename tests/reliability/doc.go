// Package reliability holds the rollout-level reliability tests of issue 8:
// rollouts under load against lbsim and HAProxy while the cloud API fails,
// slows down or throttles, while a target's health flaps, while
// ansible-playbook is killed and run again, and while hosts drain in
// parallel. See README.md for the scenarios and their figures.
//
// # min_healthy and parallel drains
//
// A drain (lb_drain, haproxy_maint) counts the other targets of each pool
// under a lock per pool on the host it runs on, held from the count until
// the load balancer shows the target out, so the drains of a batch count
// one after the other and each sees the ones before it out. What holds:
//
//   - Within one ansible-playbook run, and across runs and delegate_to on
//     the same host as the same user, a pool never goes below min_healthy
//     healthy targets through the drains (as far as the load balancer's
//     health reports are current). Draining, unhealthy and not yet healthy
//     targets do not count.
//   - With serial: N above what the pool can spare (healthy − min_healthy),
//     the drain that would break min_healthy waits, up to its timeout, for
//     an earlier host of the batch to come back. That needs the strategy
//     free of the collection's playbook: under linear an earlier host's
//     register waits behind the batch's drain task, so there the drain
//     fails at once, changing nothing, with advice.
//
// Not covered: drains of the same pool run from other machines or as
// other users, and other tools changing the pool. TestConcurrency's 3
// hosts, serial 3, min_healthy 2 scenarios show the waiting on every load
// balancer kind (0 lost, never fewer than 2 in rotation), and the fail-fast
// path under a linear play of the test's own.
package reliability
