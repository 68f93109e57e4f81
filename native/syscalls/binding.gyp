{
  "targets": [
    {
      "target_name": "berth_syscalls",
      "sources": ["addon.c", "mount.c", "spawn.c", "openat2.c", "attach.c", "signal.c"]
    }
  ]
}
