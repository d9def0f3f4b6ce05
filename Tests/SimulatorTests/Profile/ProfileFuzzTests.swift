import Foundation
import Testing

@testable import Simulator

/// Bad YAML never crashes the parser: seeded random mutations of the shipped profiles either parse
/// into a fleet that validates and generates, or fail with a located `ProfileError`.
@Suite struct ProfileFuzzTests {
    static let alphabet = Array(":{}[]-,'\"&*!|>\n\t #0123456789.e+n{n:03}ab_<<")

    static func mutate(_ text: String, random: inout Xoshiro256StarStar) -> String {
        var characters = Array(text)
        for _ in 0..<Int(random.nextInt(in: 1...4)) {
            guard !characters.isEmpty else { break }
            let position = Int(random.nextInt(in: 0...Int64(characters.count - 1)))
            switch random.nextInt(in: 0...3) {
            case 0:  // delete a short run
                let length = Swift.min(Int(random.nextInt(in: 1...12)), characters.count - position)
                characters.removeSubrange(position..<(position + length))
            case 1:  // insert a few structural characters
                let insert = (0..<Int(random.nextInt(in: 1...3))).map { _ in
                    alphabet[Int(random.nextInt(in: 0...Int64(alphabet.count - 1)))]
                }
                characters.insert(contentsOf: insert, at: position)
            case 2:  // duplicate a line
                let lines = String(characters).split(separator: "\n", omittingEmptySubsequences: false)
                let line = Int(random.nextInt(in: 0...Int64(lines.count - 1)))
                var copy = lines.map(String.init)
                copy.insert(copy[line], at: line)
                characters = Array(copy.joined(separator: "\n"))
            default:  // change a digit
                if let digit = characters[position...].firstIndex(where: \.isNumber) {
                    characters[digit] = alphabet[Int(random.nextInt(in: 0...Int64(alphabet.count - 1)))]
                }
            }
        }
        return String(characters)
    }

    @Test(arguments: ["demo.yaml", "test.yaml"])
    func mutatedProfilesParseOrFailCleanly(file: String) throws {
        let original = try String(contentsOfFile: TestSupport.devicesFile(file), encoding: .utf8)
        var random = Xoshiro256StarStar(seed: 2026)
        var parsed = 0
        var rejected: Set<ProfileError.Code> = []
        for _ in 0..<400 {
            let text = Self.mutate(original, random: &random)
            do {
                let fleet = try FleetProfileParser.parse(yaml: text, file: "fuzz.yaml")
                try fleet.validate(file: "fuzz.yaml")
                parsed += 1
                var generator = FleetGenerator(
                    fleet: fleet,
                    startMilliseconds: 0,
                    limits: GeneratorLimits(durationMilliseconds: 2_000, readings: 5_000)
                )
                for publication in generator.generateAll().publications where publication.isTelemetry {
                    #expect(publication.payload.count <= 65_536)
                }
            } catch {
                #expect(error.description.hasPrefix("fuzz.yaml"))
                #expect(!error.message.isEmpty)
                rejected.insert(error.code)
            }
        }
        // Both outcomes happen, and the rejections are varied.
        #expect(parsed > 20)
        #expect(rejected.count >= 4, "\(rejected)")
    }
}
