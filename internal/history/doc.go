// Package history keeps the recent messages of each topic in memory, so
// that a client that was away can be given what it missed, and numbers
// them: every kept message has its topic's sequence number (1, 2, 3 …),
// the topic's epoch and a place in the node-wide journal.
//
// The entry points:
//
//   - Store.Record is the hub's History: it numbers and keeps each topic
//     message (package hub calls it before matching subscribers).
//   - Store.Read answers "what did I miss on PATTERN since POSITION": the
//     kept messages in journal order and, for each topic where something
//     is no longer kept, a Gap.
//   - ParseSince parses the positions clients send (since=, SSE ids),
//     ParseRule the per-pattern retention rules.
//   - ReadWindows answers a read from what a history kept elsewhere
//     holds of each topic (Window: the cluster's history in JetStream,
//     package natsbp), with the selection and gaps Store.Read gives;
//     Config.Limits says what a topic keeps.
//
// Retention is bounded three ways: per topic by count (Keep) and age
// (MaxAge), whichever is smaller, with per-pattern Rules overriding both;
// and over all topics by MaxBytes, past which the oldest message of any
// topic goes first. Every eviction is counted (Stats).
//
// An epoch is a random number given to a topic's numbering when it
// starts. A store without a durable backend starts every topic afresh at
// boot, so a restart changes every epoch; a topic whose numbering had to
// be dropped under the byte cap starts again with a new epoch too. A
// client holding (epoch, seq) from another epoch knows its position is
// stale and is told so (Gap.Lost).
package history
