package dev.pinfleet.agent.install;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.agent.testing.TestWheels.TarItem;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.ArtifactKind;
import dev.pinfleet.proto.v1.FailureReason;
import dev.pinfleet.wheel.PathOwners;
import dev.pinfleet.wheel.testing.ZipBuilder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ARCHIVE and FILE artifacts on their own, straight into a staging directory: where they land, what they claim before
 * anything is written, and what they may not do (leave their install_path, write over what is there). Through a whole
 * release build: {@code ReleaseBuilderTest}, {@code PathOwnershipTest}, {@code WheelChecksTest}.
 */
class ArchiveInstallerTest {
    @TempDir
    Path tmp;
    Path staging;
    Path inputs;

    @BeforeEach
    void setUp() throws Exception {
        staging = Files.createDirectories(tmp.resolve("staging"));
        inputs = Files.createDirectories(tmp.resolve("inputs"));
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private Artifact archive(String file, String installPath, List<TarItem> items) throws Exception {
        Path tgz = TestWheels.tarGz(inputs.resolve(file), items);
        return TestWheels.artifact(tgz, ArtifactKind.ARCHIVE, "app", "1", installPath);
    }

    private Path input(Artifact a) {
        return inputs.resolve(a.getFilename());
    }

    private void install(Artifact a) throws Exception {
        ArchiveInstaller.install(a, input(a), staging, Set.of());
    }

    @Test
    void twoArchivesMayShareAnInstallPathAndItsDirectories() throws Exception {
        install(archive("one.tar.gz", "www", List.of(TarItem.dir("static/"), TarItem.file("static/a.css", "a"))));
        install(archive("two.tar.gz", "www", List.of(TarItem.dir("static/"), TarItem.dir("static/img/"),
                TarItem.file("static/img/b.svg", "b"))));
        assertEquals("a", Files.readString(staging.resolve("www/static/a.css")));
        assertEquals("b", Files.readString(staging.resolve("www/static/img/b.svg")));
    }

    @Test
    void aZipsDirectoryEntriesAndExecutableBitsAreKept() throws Exception {
        Path zip = inputs.resolve("site-1.zip");
        Files.write(zip, ZipBuilder.zip(List.of(new ZipBuilder.Item("css/", new byte[0], 040755, false),
                new ZipBuilder.Item("css/site.css", bytes("body{}"), 0100644, true),
                new ZipBuilder.Item("bin/run", bytes("#!/bin/sh\n"), 0100755, true),
                new ZipBuilder.Item("empty/", new byte[0], 040755, false))));
        Artifact a = TestWheels.artifact(zip, ArtifactKind.ARCHIVE, "site", "1", "app/site");
        install(a);
        assertEquals("body{}", Files.readString(staging.resolve("app/site/css/site.css")));
        assertTrue(Files.isExecutable(staging.resolve("app/site/bin/run")));
        assertFalse(Files.isExecutable(staging.resolve("app/site/css/site.css")));
        assertTrue(Files.isDirectory(staging.resolve("app/site/empty")));
        PathOwnership.Claims c = ArchiveInstaller.claims(a, zip);
        assertEquals(Set.of("app/site/css/site.css", "app/site/bin/run"), c.files().keySet());
        assertTrue(c.files().get("app/site/bin/run").executable());
        assertEquals(Set.of("app", "app/site", "app/site/css", "app/site/bin", "app/site/empty"), c.dirs());
    }

    @Test
    void claimsListWhatWouldBeWrittenWithoutWritingIt() throws Exception {
        Artifact a = archive("app-1.tar.gz", "srv/app", List.of(TarItem.file("main.py", "print(1)\n"),
                TarItem.dir("pkg/"), TarItem.symlink("latest", "main.py")));
        PathOwnership.Claims c = ArchiveInstaller.claims(a, input(a));
        assertEquals(Set.of("srv", "srv/app", "srv/app/pkg"), c.dirs());
        assertEquals(Set.of("srv/app/main.py", "srv/app/latest"), c.files().keySet());
        assertEquals(new PathOwners.Identity("symlink", "main.py", false), c.files().get("srv/app/latest"));
        assertEquals("file", c.files().get("srv/app/main.py").kind());
        try (var s = Files.list(staging)) {
            assertEquals(List.of(), s.toList(), "nothing written");
        }

        Path ini = Files.writeString(inputs.resolve("app.ini"), "[app]\n");
        Artifact file = TestWheels.artifact(ini, ArtifactKind.FILE, "appini", "1", "etc/app/app.ini");
        PathOwnership.Claims fc = ArchiveInstaller.claims(file, ini);
        assertEquals(Set.of("etc", "etc/app"), fc.dirs());
        assertEquals(Map.of("etc/app/app.ini", new PathOwners.Identity("file",
                dev.pinfleet.wheel.RecordFile.sha256Field(java.util.HexFormat.of().parseHex(file.getSha256())), false)),
                fc.files());
    }

    @Test
    void whatAnotherArtifactWritesWithTheSameBytesIsLeftToIt() throws Exception {
        Artifact a = archive("app-1.tar.gz", "app", List.of(TarItem.file("shared.py", "S = 1\n"),
                TarItem.file("own.py", "O = 1\n"), TarItem.symlink("link", "own.py")));
        ArchiveInstaller.install(a, input(a), staging, Set.of("app/shared.py", "app/link"));
        assertFalse(Files.exists(staging.resolve("app/shared.py")));
        assertFalse(Files.exists(staging.resolve("app/link"), java.nio.file.LinkOption.NOFOLLOW_LINKS));
        assertEquals("O = 1\n", Files.readString(staging.resolve("app/own.py")));

        Path ini = Files.writeString(inputs.resolve("app.ini"), "[app]\n");
        Artifact file = TestWheels.artifact(ini, ArtifactKind.FILE, "appini", "1", "etc/app.ini");
        ArchiveInstaller.install(file, ini, staging, Set.of("etc/app.ini"));
        assertFalse(Files.exists(staging.resolve("etc/app.ini")), "an earlier artifact writes it");
        ArchiveInstaller.install(file, ini, staging, Set.of());
        assertEquals("[app]\n", Files.readString(staging.resolve("etc/app.ini")));
    }

    @Test
    void anInstallPathOutsideTheReleaseOrOverWhatIsThereIsRefused() throws Exception {
        Path ini = Files.writeString(inputs.resolve("app.ini"), "[app]\n");
        for (String bad : List.of("../etc/app.ini", "/etc/app.ini", "etc/../../x", "etc\\app.ini")) {
            Artifact a = TestWheels.artifact(ini, ArtifactKind.FILE, "appini", "1", bad);
            InstallException e = assertThrows(InstallException.class, () -> ArchiveInstaller.install(a, ini, staging,
                    Set.of()));
            assertTrue(e.getMessage().startsWith("app.ini: install_path '" + bad + "': "), e.getMessage());
            assertThrows(InstallException.class, () -> ArchiveInstaller.claims(a, ini));
        }
        // what the virtualenv (or an earlier artifact) put there is never written over
        Files.writeString(staging.resolve("pyvenv.cfg"), "home = /usr/bin\n");
        Artifact cfg = TestWheels.artifact(ini, ArtifactKind.FILE, "appini", "1", "pyvenv.cfg");
        InstallException e = assertThrows(InstallException.class, () -> ArchiveInstaller.install(cfg, ini, staging,
                Set.of()));
        assertEquals("app.ini: install_path 'pyvenv.cfg' already exists in the release", e.getMessage());
        assertEquals(FailureReason.REASON_INSTALL_CONFLICT, e.reason());
        assertEquals("home = /usr/bin\n", Files.readString(staging.resolve("pyvenv.cfg")));
        Artifact overFile = archive("over.tar.gz", "pyvenv.cfg", List.of(TarItem.file("x", "x")));
        assertTrue(assertThrows(InstallException.class, () -> install(overFile)).getMessage()
                .endsWith("install_path 'pyvenv.cfg' already exists in the release"));
        Files.createDirectories(staging.resolve("etc/app.ini"));
        Artifact overDir = TestWheels.artifact(ini, ArtifactKind.FILE, "appini", "1", "etc/app.ini");
        assertTrue(assertThrows(InstallException.class, () -> ArchiveInstaller.install(overDir, ini, staging, Set.of()))
                .getMessage().endsWith("install_path 'etc/app.ini' already exists in the release"));
    }

    @Test
    void aLinkTargetMustStayInsideAndNotPassThroughAnotherLink() {
        Set<String> none = Set.of();
        assertNull(ArchiveInstaller.checkLink("a/b/l", "../c", none));
        assertNull(ArchiveInstaller.checkLink("a/l", "./b//c/.", none));
        assertNull(ArchiveInstaller.checkLink("l", "x/../y", none));
        assertEquals("target leaves the install_path", ArchiveInstaller.checkLink("a/l", "../../x", none));
        assertEquals("target leaves the install_path", ArchiveInstaller.checkLink("l", "..", none));
        assertEquals("target is empty or absolute", ArchiveInstaller.checkLink("l", "", none));
        assertEquals("target is empty or absolute", ArchiveInstaller.checkLink("l", "/etc", none));
        assertEquals("target contains a NUL or backslash", ArchiveInstaller.checkLink("l", "a\0b", none));
        assertEquals("target contains a NUL or backslash", ArchiveInstaller.checkLink("l", "a\\..\\..", none));
        assertEquals("target contains a NUL or backslash", ArchiveInstaller.checkLink("l", "\0a", none));
        assertEquals("target contains a NUL or backslash", ArchiveInstaller.checkLink("l", "\\a", none));
        assertEquals("target passes through another symbolic link", ArchiveInstaller.checkLink("a/l", "../b/c",
                Set.of("b")));
        assertNull(ArchiveInstaller.checkLink("a/l", "../bb/c", Set.of("b")));
    }
}
