import ArgumentParser

struct Extract: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Extract the main text of saved HTML files.")
    func run() throws {}
}
