"""Untrusted data handled in one place each: text shown to a person (`text`), files written where a
planted symlink or a device may sit (`files`), and JSON read from files anyone could have written
(`jsonio`). Every command uses these helpers; docs/integrity.md lists the classes they defend."""
