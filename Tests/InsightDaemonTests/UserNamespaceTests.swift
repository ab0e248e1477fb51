@testable import InsightDaemon
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// admin_group under systemd's PrivateUsers=yes: a group outside the user namespace's gid map is invisible.
@Suite struct UserNamespaceTests {
    @Test func theInitialNamespaceMapsEveryGroup() {
        let namespace = UserNamespace(gidMap: "         0          0 4294967295\n")
        #expect(!namespace.hides(gid: 0))
        #expect(!namespace.hides(gid: 1001))
        #expect(!namespace.hides(gid: 4_294_967_294))
    }

    /// The map systemd writes for PrivateUsers=yes: root, and the service's own group (here 998).
    @Test func privateUsersMapsOnlyRootAndTheServicesGroup() {
        let namespace = UserNamespace(gidMap: "         0          0          1\n       998        998          1\n")
        #expect(!namespace.hides(gid: 0))
        #expect(!namespace.hides(gid: 998))
        #expect(namespace.hides(gid: 997))
        #expect(namespace.hides(gid: 999))
        #expect(namespace.hides(gid: 1001))
    }

    @Test func aRangeCoversItsCountAndNoMore() {
        let namespace = UserNamespace(gidMap: "1000 101000 10\nnot a line\n")
        #expect(namespace.hides(gid: 999))
        #expect(!namespace.hides(gid: 1000))
        #expect(!namespace.hides(gid: 1009))
        #expect(namespace.hides(gid: 1010))
    }

    /// This process's own namespace maps its own group, whatever namespace the tests run in.
    @Test func theCurrentNamespaceMapsTheProcesssGroup() {
        #expect(!UserNamespace.current.hides(gid: getgid()))
    }
}
