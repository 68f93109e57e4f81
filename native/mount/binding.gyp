{
  "targets": [
    {
      "target_name": "berth_mount",
      "sources": ["mount.c"]
    }
  ]
}
