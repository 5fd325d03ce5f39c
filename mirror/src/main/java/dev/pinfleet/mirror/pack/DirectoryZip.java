package dev.pinfleet.mirror.pack;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * Packs an application's code directory into a deterministic zip (an ARCHIVE artifact): regular files only, in
 * sorted '/'-separated order, fixed timestamps, mode 0755 for executable files else 0644. The same tree always
 * gives the same bytes, so an unchanged tree frozen again is the same published file.
 */
public final class DirectoryZip {
    private DirectoryZip() {}

    /**
     * Writes the zip of {@code dir} to {@code out}.
     *
     * @throws IOException naming the path when the tree holds a symbolic link or a special file (an archive
     *                     installs plain files only), or nothing at all
     */
    public static void pack(Path dir, OutputStream out) throws IOException {
        List<Path> files;
        try (Stream<Path> s = Files.walk(dir)) {
            files = s.filter(p -> !p.equals(dir)).sorted().toList();
        }
        try (ZipWriter zip = new ZipWriter(out, 6)) {
            int n = 0;
            for (Path p : files) {
                if (Files.isSymbolicLink(p)) {
                    throw new IOException(p + ": a symbolic link; an archive holds regular files only");
                }
                if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    continue;
                }
                if (!Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                    throw new IOException(p + ": not a regular file");
                }
                String name = dir.relativize(p).toString().replace('\\', '/');
                zip.add(name, Files.readAllBytes(p), Files.isExecutable(p));
                n++;
            }
            if (n == 0) {
                throw new IOException(dir + ": no files to pack");
            }
        }
    }

}
