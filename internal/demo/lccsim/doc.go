// Package lccsim runs the backup and restore lifecycle configurations in process,
// for the emulator (emulator.LCCRunner.Run) where bash and the AWS CLI v2 are not
// installed: the demo on a machine with only Go, and tests that need to hold a run
// at a chosen moment. It reads the settings `lcc install` wrote into the script
// (bucket, prefix, source domain) and does the script's work with internal/backup:
// same layout, same markers (complete/<run>.json, restored/<time>.json). Unlike the
// scripts it works before returning, so the app is InService once the work is done.
package lccsim
