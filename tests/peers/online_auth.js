// mineflayer options for an online-mode login against the session server in
// MC_SESSION_SERVER (the tests' fake of Mojang's): node-minecraft-protocol's
// own 'mojang' auth with a ready session (the account's id and access token,
// made by the fake), so on an Encryption Request the client calls
// `POST <MC_SESSION_SERVER>/session/minecraft/join` as the real launcher
// does and the server's `hasJoined` finds the join. Without an account (or
// without MC_SESSION_SERVER) the login is offline, as a cracked client's.
'use strict'

function authOptions (username, id, accessToken) {
  const sessionServer = process.env.MC_SESSION_SERVER
  if (!id || !accessToken || !sessionServer) return { username, auth: 'offline' }
  return {
    username,
    auth: 'mojang',
    sessionServer,
    // Never called: the session is used as given (skipValidation).
    authServer: sessionServer,
    session: {
      accessToken,
      clientToken: 'mc-gitops-tests',
      selectedProfile: { id, name: username },
      availableProfiles: [{ id, name: username }]
    },
    skipValidation: true,
    // Keep nmp from reading or writing a launcher profile on this machine.
    profilesFolder: false
  }
}

module.exports = { authOptions }
