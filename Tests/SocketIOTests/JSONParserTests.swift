import SocketIO
import Testing

@Suite struct JSONParserTests {
    @Test(arguments: [
        (#"{"a":[1,-2.5,3e2,true,false,null,"x\n\u00e9\ud83d\ude00"]}"#, #"{"a":[1,-2.5,300,true,false,null,"x\né😀"]}"#),
        (#" [ ] "#, "[]"),
        (#"{"b":1,"a":2}"#, #"{"b":1,"a":2}"#),
        (#""\u0001\"\\/""#, #""\u0001\"\\/""#),
        (#"["\b\f\r\tx\u001f", "é\"", "\\", "plain ascii"]"#, #"["\b\f\r\tx\u001f","é\"","\\","plain ascii"]"#),
        ("0.1", "0.1"),
        ("123456789012", "123456789012"),
    ])
    func roundTrips(input: String, output: String) throws {
        #expect(try JSONParser().parse(input).jsonText == output)
    }

    @Test(arguments: [
        "", "[", "]", "{", #"{"a"}"#, #"{"a":}"#, "[1,]", "01", "1.", ".5", "-", "+1", "tru", "nul", #""abc"#,
        "\"\u{01}\"", #""\x""#, #""\ud800""#, #""\udc00x""#, "[1] x", "NaN", "Infinity", "{'a':1}",
    ])
    func rejects(input: String) {
        #expect(throws: JSONParseError.self) { try JSONParser().parse(input) }
    }

    @Test func enforcesLimits() {
        let deep = String(repeating: "[", count: 40) + String(repeating: "]", count: 40)
        #expect(throws: JSONParseError.self) { try JSONParser(limits: .init(maxDepth: 32)).parse(deep) }
        #expect(throws: Never.self) { try JSONParser(limits: .init(maxDepth: 40)).parse(deep) }
        let many = "[" + Array(repeating: "1", count: 1_000).joined(separator: ",") + "]"
        #expect(throws: JSONParseError.self) { try JSONParser(limits: .init(maxValues: 500)).parse(many) }
        #expect(throws: JSONParseError.self) { try JSONParser(limits: .init(maxBytes: 100)).parse(many) }
    }

    @Test func deepInputDoesNotOverflowTheStack() {
        let hostile = String(repeating: "[", count: 1_000_000)
        #expect(throws: JSONParseError.self) { try JSONParser().parse(hostile) }
    }
}
