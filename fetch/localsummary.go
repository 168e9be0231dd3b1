package fetch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"arbor/store/gpg"
)

// verifyLocalSummary checks that b, the summary of the repository at src
// (nil: it has none), is signed by one of keys; a missing summary or
// signature fails.
func verifyLocalSummary(src string, b []byte, keys *gpg.Keyring) error {
	if b == nil {
		return fmt.Errorf("%s: GPG verification of the summary enabled, but the repository has no summary", src)
	}
	sig, err := os.ReadFile(filepath.Join(src, "summary.sig"))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: GPG verification of the summary enabled, but no signatures found (summary.sig)", src)
	}
	if err != nil {
		return err
	}
	if err := verifySigs(keys, b, sig); err != nil {
		return fmt.Errorf("%s: summary: %w", src, err)
	}
	return nil
}
