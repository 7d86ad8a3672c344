# SPDX-License-Identifier: MIT
# What `cmake --install` puts beside the binaries and the client library: the Prosody
# gate module, the systemd unit, the example configuration and the man page.
# The binaries and the library install from their own folders (plugin/app,
# examples/client, client_ext).

# Debian's Prosody loads modules from /usr/lib/prosody/modules without configuration:
# with prefix /usr the module lands there. With another prefix (/usr/local/lib/prosody/
# modules, say) the operator adds that directory to Prosody's plugin_paths.
set(RPSYNC_PROSODY_MODULE_DIR "lib/prosody/modules" CACHE STRING
    "Where mod_rpsync_gate.lua is installed (relative: under the install prefix)")
install(FILES ${PROJECT_SOURCE_DIR}/plugin/prosody/mod_rpsync_gate.lua
  DESTINATION ${RPSYNC_PROSODY_MODULE_DIR})

# systemd searches /usr/local/lib/systemd/system and /lib/systemd/system (Debian 12
# packages ship units there; debian/rules passes the absolute path).
set(RPSYNC_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE STRING
    "Where rpsync-component.service is installed (relative: under the install prefix)")
# The unit in the tree names the Debian paths (/usr/bin, /etc/rpsync); the installed copy
# names this build's bindir and sysconfdir.
file(READ ${PROJECT_SOURCE_DIR}/examples/systemd/rpsync-component.service _rpsync_unit)
string(REPLACE "/usr/bin/rpsync-component" "${CMAKE_INSTALL_FULL_BINDIR}/rpsync-component"
       _rpsync_unit "${_rpsync_unit}")
string(REPLACE "/etc/rpsync/" "${CMAKE_INSTALL_FULL_SYSCONFDIR}/rpsync/"
       _rpsync_unit "${_rpsync_unit}")
file(GENERATE OUTPUT ${PROJECT_BINARY_DIR}/packaging/rpsync-component.service
     CONTENT "${_rpsync_unit}")
install(FILES ${PROJECT_BINARY_DIR}/packaging/rpsync-component.service
  DESTINATION ${RPSYNC_SYSTEMD_UNIT_DIR})

# The example configuration, as the package's /etc/rpsync/rpsync.toml (sysconfdir is /etc
# for prefix /usr, PREFIX/etc otherwise).
install(FILES ${PROJECT_SOURCE_DIR}/examples/rpsync.toml
  DESTINATION ${CMAKE_INSTALL_SYSCONFDIR}/rpsync)

install(FILES ${PROJECT_SOURCE_DIR}/docs/man/rpsync-component.8
  DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
