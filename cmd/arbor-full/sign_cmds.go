package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"arbor/store"
	"arbor/store/delta"
	"arbor/store/object"
	"arbor/store/sign"
)

// signEngine is a signature type by name; the dummy type is for tests of
// the machinery and works only with OSTREE_DUMMY_SIGN_ENABLED set.
func signEngine(name string) (sign.Engine, error) {
	return sign.Lookup(name, os.Getenv("OSTREE_DUMMY_SIGN_ENABLED") != "")
}

// keySigner signs with one --sign key, into its engine's metadata key.
type keySigner struct {
	key  string
	sign func([]byte) ([]byte, error)
}

// keySigners are the signers of --sign=KEY... of --sign-type, made
// before anything is written so a bad type fails first.
func keySigners(typ string, secrets []string) ([]keySigner, error) {
	if len(secrets) == 0 {
		return nil, nil
	}
	e, err := signEngine(typ)
	if err != nil {
		return nil, err
	}
	var out []keySigner
	for _, s := range secrets {
		s := s
		out = append(out, keySigner{e.MetaKey(), func(b []byte) ([]byte, error) { return e.Sign(s, b) }})
	}
	return out, nil
}

func (a *app) signCmd() *cobra.Command {
	var typ, keysFile, keysDir string
	var verify bool
	c := &cobra.Command{
		Use:   "sign [--sign-type=TYPE] [--verify] COMMIT [KEY...]",
		Short: "Sign a commit with ed25519 keys, or verify its signatures",
		Long: `sign adds a signature by each secret KEY (base64) to the commit's detached
metadata. With --verify, it checks that one of the commit's signatures of
--sign-type was made by one of the public KEYs, of --keys-file's, or of
--keys-dir's trusted keys (trusted.TYPE, trusted.TYPE.d/, less revoked.TYPE
and revoked.TYPE.d/), by default those of /etc/ostree and /usr/share/ostree.`,
		Example: `  arbor --repo=repo sign main "$SECRET"
  arbor --repo=repo sign --verify main "$PUBLIC"`,
		Args: cobra.MinimumNArgs(1),
		RunE: a.withRepo(func(cmd *cobra.Command, args []string, r *store.Repo) error {
			e, err := signEngine(typ)
			if err != nil {
				return err
			}
			c, err := r.Resolve(args[0])
			if err != nil {
				return err
			}
			keys := args[1:]
			if keysFile != "" {
				more, err := sign.ReadKeysFile(keysFile)
				if err != nil {
					return err
				}
				keys = append(keys, more...)
			}
			if !verify {
				if len(keys) == 0 {
					return errors.New("no secret key given to sign with (KEY or --keys-file)")
				}
				for _, k := range keys {
					k := k
					if err := r.SignCommitAt(cmd.Context(), c, e.MetaKey(), func(b []byte) ([]byte, error) { return e.Sign(k, b) }); err != nil {
						return err
					}
				}
				return nil
			}
			if len(args) == 1 && keysFile == "" {
				dirs := sign.SystemDirs()
				if keysDir != "" {
					dirs = []string{keysDir}
				}
				for _, d := range dirs {
					more, err := sign.DirKeys(d, e.Name())
					if err != nil {
						return err
					}
					keys = append(keys, more...)
				}
			}
			msg, err := verifyCommitSig(r, c, e, keys)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.Stdout, msg)
			return nil
		}),
	}
	f := c.Flags()
	f.StringVarP(&typ, "sign-type", "s", sign.Default, "signature type: ed25519 (or dummy, for tests)")
	f.BoolVar(&verify, "verify", false, "verify the commit's signatures instead")
	f.StringVar(&keysFile, "keys-file", "", "read keys from this file, one a line")
	f.StringVar(&keysDir, "keys-dir", "", "with --verify, the directory of trusted and revoked keys")
	return c
}

// verifyCommitSig checks a commit's signatures of engine e against keys.
func verifyCommitSig(r *store.Repo, c object.Checksum, e sign.Engine, keys []string) (string, error) {
	b, err := r.ReadMeta(c, object.TypeCommit)
	if err != nil {
		return "", err
	}
	sigs, err := r.CommitSignaturesAt(c, e.MetaKey())
	if err != nil {
		return "", err
	}
	msg, err := e.Verify(keys, b, sigs)
	if err != nil {
		return "", fmt.Errorf("commit %s: %w", c, err)
	}
	return msg, nil
}

// signVerifySets turns remote add's --sign-verify=TYPE=inline:KEY or
// TYPE=file:PATH into the remote's settings.
func signVerifySets(specs []string, set map[string]string) error {
	for _, spec := range specs {
		typ, ref, ok := strings.Cut(spec, "=")
		if !ok {
			return fmt.Errorf("--sign-verify=%s: Failed to parse KEYTYPE=[inline|file]:DATA", spec)
		}
		if _, err := sign.Lookup(typ, true); err != nil {
			return fmt.Errorf("--sign-verify=%s: %w", spec, err)
		}
		how, data, _ := strings.Cut(ref, ":")
		switch how {
		case "inline":
			set["verification-"+typ+"-key"] = data
		case "file":
			set["verification-"+typ+"-file"] = data
		default:
			return fmt.Errorf("--sign-verify=%s: Invalid key reference %q, want inline:KEY or file:PATH", spec, ref)
		}
		set["sign-verify"] = "true"
	}
	return nil
}

// deltaSignFlags are the flags that check a delta's signature.
type deltaSignFlags struct {
	typ, keysFile, keysDir string
}

func (d *deltaSignFlags) flags(c *cobra.Command) {
	c.Flags().StringVar(&d.typ, "sign-type", sign.Default, "the type of the KEYs: ed25519 (or dummy, for tests)")
	c.Flags().StringVar(&d.keysFile, "keys-file", "", "read public keys from this file, one a line")
	c.Flags().StringVar(&d.keysDir, "keys-dir", "", "trust the keys of this directory (trusted.TYPE, trusted.TYPE.d/, less revoked.TYPE and revoked.TYPE.d/)")
}

// asked reports whether keys were named at all: then the signature is
// checked even if they come to none.
func (d *deltaSignFlags) asked(args []string) bool {
	return len(args) > 0 || d.keysFile != "" || d.keysDir != ""
}

func (d *deltaSignFlags) keys(args []string) ([]string, error) {
	keys := append([]string(nil), args...)
	if d.keysFile != "" {
		more, err := sign.ReadKeysFile(d.keysFile)
		if err != nil {
			return nil, err
		}
		keys = append(keys, more...)
	}
	if d.keysDir != "" {
		more, err := sign.DirKeys(d.keysDir, d.typ)
		if err != nil {
			return nil, err
		}
		keys = append(keys, more...)
	}
	return keys, nil
}

// check verifies the superblock of the delta at path against the public
// keys given, when there are any or the repository asks for it
// (core.sign-verify-deltas).
func (d *deltaSignFlags) check(r *store.Repo, dir string, sb *delta.Superblock, args []string) error {
	keys, err := d.keys(args)
	if err != nil {
		return err
	}
	forced, err := r.Config().Bool("core", "sign-verify-deltas", false)
	if err != nil {
		return err
	}
	if !d.asked(args) {
		if forced {
			return fmt.Errorf("%s: Key is mandatory to check delta signature (core.sign-verify-deltas is set)", dir)
		}
		return nil
	}
	if err := verifyDeltaSig(sb, d.typ, keys); err != nil {
		return fmt.Errorf("%s: signature: %w", dir, err)
	}
	return nil
}

// verifyDeltaSig checks a superblock's signatures of one type.
func verifyDeltaSig(sb *delta.Superblock, typ string, keys []string) error {
	e, err := signEngine(typ)
	if err != nil {
		return err
	}
	sigs, data, err := delta.SuperblockSignatures(sb, e.MetaKey())
	if err != nil {
		return err
	}
	_, err = e.Verify(keys, data, sigs)
	return err
}

func (a *app) deltaVerifyCmd() *cobra.Command {
	var sv deltaSignFlags
	c := &cobra.Command{
		Use:     "verify [--sign-type=TYPE] DELTA [KEY...]",
		Short:   "Check a static delta's superblock signature against public keys",
		Example: `  arbor --repo=repo static-delta verify FROM-TO "$PUBLIC"`,
		Args:    cobra.MinimumNArgs(1),
		RunE: a.withRepo(func(cmd *cobra.Command, args []string, r *store.Repo) error {
			d, err := delta.Find(r.Path(), args[0])
			if err != nil {
				return err
			}
			keys, err := sv.keys(args[1:])
			if err != nil {
				return err
			}
			sb, _, err := delta.Read(r.Path(), d)
			if err != nil {
				return err
			}
			if err := verifyDeltaSig(sb, sv.typ, keys); err != nil {
				fmt.Fprintln(a.Stdout, "Verification fails")
				return fmt.Errorf("static delta %s: %w", d, err)
			}
			fmt.Fprintln(a.Stdout, "Verification OK")
			return nil
		}),
	}
	sv.flags(c)
	return c
}
