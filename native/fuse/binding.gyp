{
  "targets": [
    {
      "target_name": "pmxfuse",
      "sources": ["src/pmxfuse.cc"],
      "include_dirs": ["<!@(node -p \"require('node-addon-api').include_dir\")", "<!@(pkg-config --cflags-only-I fuse3 | sed 's/-I//g')"],
      "libraries": ["<!@(pkg-config --libs fuse3)"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "FUSE_USE_VERSION=34"],
      "cflags_cc": ["-O2", "-fexceptions", "-std=c++17", "-Wall", "-Wno-missing-field-initializers"],
      "cflags_cc!": ["-fno-exceptions"]
    }
  ]
}
