# The native addon (Linux only): sock_diag socket dumps and the DNS-response tap. Built by scripts/build-addon.mjs; collectors/sockdiag.ts falls back
# to /proc/net when build/Release/sockdiag.node is missing.
{
  "targets": [
    {
      "target_name": "sockdiag",
      "conditions": [
        ["OS=='linux'", {
          "sources": ["collectors/native/sockdiag.c", "collectors/native/dnstap.c"],
          "cflags_c": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
          "ldflags": ["-pthread"],
          "configurations": {
            "Release": { "cflags!": ["-O3"], "cflags": ["-O2"] }
          }
        }, {
          "type": "none"
        }]
      ]
    }
  ]
}
