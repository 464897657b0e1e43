// Package progress draws a job's progress from its record: on a terminal an overall
// bar in bytes (totals, rate, ETA; IEC units) with a line per active home, elsewhere
// plain periodic lines. `migrator watch`, `migrate --watch` and the demo share it, so
// they show a job the same way. It only reads job records: it never does the work.
package progress
