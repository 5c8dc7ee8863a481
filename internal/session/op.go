package session

import "strconv"

// Op is an operation a client asks its session for. The session owns the
// vocabulary; each door maps its own syntax onto it (a line-protocol
// command, a WebSocket JSON op, an SSE query, an HTTP request), which is
// how every door offers the same operations under the same rules.
type Op uint8

// The operations. OpSay sends text to the client's current room.
const (
	OpSay Op = iota + 1
	OpHelp
	OpNick
	OpJoin
	OpPart
	OpRooms
	OpWho
	OpMsg
	OpSub
	OpUnsub
	OpPub
	OpPing
	OpQuit
	OpHistory // replay a topic's kept messages (session/history.go)
	OpIDs     // show message positions in the door's syntax
	OpAuth    // present a token: a user's, a JWT, or a shorthand token (auth.go)
	numOps
)

// opNames are the operations' names, which doors may use as their own
// spelling (the line protocol's /NAME, the WebSocket door's "op" field).
var opNames = [numOps]string{
	OpSay: "say", OpHelp: "help", OpNick: "nick", OpJoin: "join", OpPart: "part",
	OpRooms: "rooms", OpWho: "who", OpMsg: "msg", OpSub: "sub", OpUnsub: "unsub",
	OpPub: "pub", OpPing: "ping", OpQuit: "quit", OpHistory: "history", OpIDs: "ids", OpAuth: "auth",
}

// String returns the operation's name, such as "join".
func (o Op) String() string {
	if o > 0 && o < numOps {
		return opNames[o]
	}
	return "op(" + strconv.Itoa(int(o)) + ")"
}

// OpByName returns the operation called name (as String spells it).
func OpByName(name string) (Op, bool) {
	for o := OpSay; o < numOps; o++ {
		if opNames[o] == name {
			return o, true
		}
	}
	return 0, false
}

// Param is one argument of an operation, for help texts: Field is the
// Request field it fills.
type Param struct {
	Name     string // what it is, e.g. "room"
	Field    Field  // where a Request carries it
	Optional bool
}

// Field names a Request field.
type Field uint8

// Request fields.
const (
	FieldArg   Field = iota + 1 // Request.Arg
	FieldArg2                   // Request.Arg2
	FieldText                   // Request.Text
	FieldSince                  // Request.Since
)

// Command describes one operation for help: what it takes and does, in
// no door's syntax. Each door renders the list in its own.
type Command struct {
	Op      Op
	Params  []Param
	Summary string
}

// commands is the help of every operation a client may ask for, in the
// order help shows them.
var commands = []Command{
	{OpNick, []Param{{"name", FieldArg, false}}, "change your nick (1-32 of A-Z a-z 0-9 _ -)"},
	{OpJoin, []Param{{"room", FieldArg, false}, {"since", FieldSince, true}}, "join a room and talk in it; plain text goes to your current room; since= shows what you missed"},
	{OpPart, []Param{{"room", FieldArg, true}}, "leave a room (default: the current one)"},
	{OpRooms, nil, "list rooms and their member counts"},
	{OpWho, []Param{{"room", FieldArg, true}}, "list a room's members (default: the current one)"},
	{OpMsg, []Param{{"nick", FieldArg, false}, {"text", FieldText, false}}, "private message"},
	{OpSub, []Param{{"pattern", FieldArg, false}, {"group", FieldArg2, true}, {"since", FieldSince, true}}, "subscribe to topics: a.b, a.* (one word), a.> (the rest); GROUP shares the work; since= replays what you missed (SEQ on a topic, 10m, a Unix time)"},
	{OpUnsub, []Param{{"pattern", FieldArg, false}}, "drop a subscription"},
	{OpPub, []Param{{"topic", FieldArg, false}, {"text", FieldText, false}}, "publish TEXT on TOPIC (no reply unless it fails)"},
	{OpHistory, []Param{{"topic", FieldArg, false}, {"n", FieldText, true}}, "show the last N messages of TOPIC (default 20)"},
	{OpIDs, []Param{{"on|off", FieldArg, false}}, "show each message's position: [TOPIC#SEQ] NICK: TEXT"},
	{OpAuth, []Param{{"token", FieldText, false}}, "prove who you are with a token or JWT; what you may publish and subscribe to follows from it"},
	{OpPing, []Param{{"token", FieldText, true}}, "answers pong (with the token) once everything before it has been answered"},
	{OpQuit, nil, "leave"},
}

// Commands returns the help of every operation, in the order help shows
// them. The slice is shared: do not modify it.
func Commands() []Command { return commands }
