// dynalite for chirp's tests: `node server.js PORT` (0 = any free port) listens on 127.0.0.1
// and prints the port it got as one line once listening. Tables are ACTIVE at once.
'use strict'

const dynalite = require('dynalite')

// dynalite's request error handler throws when a client aborts mid-request (a cancelled call,
// a test killed mid-way); that must not take the server down for the rest of the session.
process.on('uncaughtException', (err) => {
  if (err && err.code === 'ECONNRESET') return
  console.error(err)
  process.exit(1)
})

const port = Number(process.argv[2] || 0)
const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 })
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`${server.address().port}\n`)
})
