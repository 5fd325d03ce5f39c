package dev.pinfleet.agent.install;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.agent.testing.TestWheels.TarItem;
import dev.pinfleet.archive.ArchiveLimits;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The tar reader's entry-count limit at its edge: 200,001 headers (100 MB of tar) take about 20 s on a loaded box, so
 * this class is left out of the mutation run (bench/mutation.sh), which would run it once per mutant of TarWalk.
 */
class TarEntryLimitTest {
    @TempDir
    Path tmp;

    @Test
    void theEntryAfterTheLastOneAllowedIsRefusedBeforeItReachesTheRelease() throws Exception {
        List<TarItem> items = new ArrayList<>(ArchiveLimits.MAX_ENTRIES + 1);
        for (int i = 0; i <= ArchiveLimits.MAX_ENTRIES; i++) {
            items.add(TarItem.dir("d" + i + "/"));
        }
        Path t = TestWheels.tarGz(tmp.resolve("many.tar.gz"), items);
        int[] told = new int[1];
        InstallException e = assertThrows(InstallException.class, () -> TarWalk.walk(t, "many.tar.gz",
                new ArchiveInstaller.Visitor() {
                    @Override
                    public void directory(String name) {
                        told[0]++;
                    }

                    @Override
                    public void file(String name, boolean executable, ArchiveInstaller.Content content) {
                        throw new AssertionError(name);
                    }

                    @Override
                    public void symlink(String name, String target) {
                        throw new AssertionError(name);
                    }
                }));
        assertEquals("many.tar.gz: more than " + ArchiveLimits.MAX_ENTRIES + " entries", e.getMessage());
        assertEquals(ArchiveLimits.MAX_ENTRIES, told[0], "every entry up to the limit was taken, none beyond");
    }
}
