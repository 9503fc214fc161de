{
  "targets": [
    {
      "target_name": "corosync",
      "sources": ["src/corosync.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall"],
      "libraries": ["-lcpg", "-lvotequorum", "-lcmap", "-lcfg"]
    }
  ]
}
