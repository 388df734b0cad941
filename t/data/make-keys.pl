#!/usr/bin/perl
# (Re)creates the TEST-ONLY key pairs under t/data/keys/, the JWKS the
# tests load (t/data/jwks.json) and the broken JWKS variants under
# t/data/jwks-bad/.  Keys come from CryptX (Debian: libcryptx-perl, pulled
# in by libcrypt-jwt-perl); Ed448, which CryptX 0.077 lacks, comes from the
# openssl command.  Run from anywhere:
#
#     perl t/data/make-keys.pl && perl t/data/make-tokens.pl
#
# The fixture tokens are signed with these keys, so regenerate them after.
use strict;
use warnings;
use FindBin;
use File::Temp qw(tempfile);
use JSON::PP;
use MIME::Base64 qw(encode_base64url);
use Crypt::PK::RSA;
use Crypt::PK::ECC;
use Crypt::PK::Ed25519;

my $data = $FindBin::Bin;
my $keys = "$data/keys";
my $bad = "$data/jwks-bad";
my $json = JSON::PP->new->canonical->pretty;

mkdir $keys;
mkdir $bad;

sub spew {
    my ($file, $text) = @_;
    open(my $fh, '>', $file) or die "$file: $!\n";
    print $fh $text;
    close($fh) or die "$file: $!\n";
}

# name => [ generator, JWK members added to the public key ]
my @rsa = (
    # no "alg": usable with RS* and PS*
    [ rsa1 => 2048, { use => 'sig' } ],
    # "alg" restricts the key to RS256
    [ rsa2 => 2048, { alg => 'RS256' } ],
    # not in jwks.json: an attacker's key, and one that is too short
    [ 'rsa-rogue' => 2048, undef ],
    [ rsa1024 => 1024, undef ],
);
my @ec = (
    [ ec256 => 'secp256r1', { use => 'sig', alg => 'ES256',
                              key_ops => ['verify'] } ],
    [ ec384 => 'secp384r1', {} ],
    [ ec521 => 'secp521r1', {} ],
);

my (%jwk, @jwks);

for my $k (@rsa) {
    my ($name, $bits, $extra) = @$k;
    my $pk = Crypt::PK::RSA->new;
    $pk->generate_key($bits / 8, 65537);
    spew("$keys/$name.pem", $pk->export_key_pem('private'));
    $jwk{$name} = { %{ $pk->export_key_jwk('public', 1) }, kid => $name,
                    %{ $extra // {} } };
    push @jwks, $jwk{$name} if defined $extra;
}

for my $k (@ec) {
    my ($name, $curve, $extra) = @$k;
    my $pk = Crypt::PK::ECC->new;
    $pk->generate_key($curve);
    # "private_short": named curve, not explicit parameters
    spew("$keys/$name.pem", $pk->export_key_pem('private_short'));
    $jwk{$name} = { %{ $pk->export_key_jwk('public', 1) }, kid => $name,
                    %$extra };
    push @jwks, $jwk{$name};
}

{
    my $pk = Crypt::PK::Ed25519->new;
    $pk->generate_key;
    spew("$keys/ed25519.pem", $pk->export_key_pem('private'));
    $jwk{ed25519} = { %{ $pk->export_key_jwk('public', 1) },
                      kid => 'ed25519', alg => 'EdDSA' };
    push @jwks, $jwk{ed25519};
}

{
    system('openssl', 'genpkey', '-algorithm', 'ED448',
           '-out', "$keys/ed448.pem") == 0
        or die "openssl genpkey ED448 failed\n";
    my $der = `openssl pkey -in '$keys/ed448.pem' -pubout -outform DER`;
    die "openssl pkey failed\n" if $? != 0 || length($der) != 12 + 57;
    $jwk{ed448} = { kty => 'OKP', crv => 'Ed448', kid => 'ed448',
                    x => encode_base64url(substr($der, 12)) };
    push @jwks, $jwk{ed448};
}

# the API tests' JWKS: every usable key, so nginx starts without warnings
spew("$data/jwks-api.json", $json->encode({ keys => [@jwks] }));

# a symmetric key is not usable for verification here: skipped at load
push @jwks, { kty => 'oct', kid => 'hmac1', alg => 'HS256',
              k => encode_base64url('0123456789abcdef0123456789abcdef') };

spew("$data/jwks.json", $json->encode({ keys => \@jwks }));

# load failures
spew("$bad/not-json.json", "keys: [ this is not JSON\n");
spew("$bad/no-keys.json", $json->encode({ issuer => 'https://x/' }));
spew("$bad/keys-not-array.json", $json->encode({ keys => $jwk{rsa1} }));
spew("$bad/empty-keys.json", $json->encode({ keys => [] }));
spew("$bad/not-object.json", $json->encode([ $jwk{rsa1} ]));
spew("$bad/duplicate-member.json",
     qq({"keys": [], "keys": [) . $json->encode($jwk{rsa1}) . "]}\n");
spew("$bad/rsa1024.json", $json->encode({ keys => [ $jwk{rsa1024} ] }));

{
    my %enc = (%{ $jwk{rsa1} }, kid => 'rsa-enc', use => 'enc');
    my %ops = (%{ $jwk{ec384} }, kid => 'ec-ops', key_ops => ['encrypt']);
    my %k256 = (%{ $jwk{ec256} }, kid => 'k256', crv => 'secp256k1');
    delete $k256{alg};
    my %noe = (%{ $jwk{rsa2} }, kid => 'rsa-no-e');
    delete $noe{e};
    my %x25519 = (kty => 'OKP', crv => 'X25519', kid => 'x25519',
                  x => $jwk{ed25519}{x});
    my %badalg = (%{ $jwk{ec521} }, kid => 'ec-rs', alg => 'RS256');
    my %priv = (%{ Crypt::PK::RSA->new("$keys/rsa1.pem")
                   ->export_key_jwk('private', 1) }, kid => 'rsa-private');
    spew("$bad/unusable.json", $json->encode({ keys => [
        { kty => 'oct', kid => 'hmac1', k => 'c2VjcmV0' },
        \%enc, \%ops, \%k256, \%noe, \%x25519, \%badalg, \%priv,
        { kid => 'no-kty' }, 'not an object' ] }));
}

{
    # a P-256 point moved off the curve: y + 1
    my %off = %{ $jwk{ec256} };
    my $y = MIME::Base64::decode_base64url($off{y});
    my @b = unpack('C*', $y);
    for (my $i = $#b; $i >= 0; $i--) {
        last if ++$b[$i] <= 255;
        $b[$i] = 0;
    }
    $off{y} = encode_base64url(pack('C*', @b));
    spew("$bad/ec-off-curve.json", $json->encode({ keys => [ \%off ] }));
}

spew("$keys/README", <<'TXT');
TEST-ONLY keys: generated by t/data/make-keys.pl for the test suite and
published with it.  They protect nothing; never use them anywhere else.

rsa1, rsa2          RSA 2048 (rsa2 is restricted to RS256 in jwks.json)
ec256 ec384 ec521   ECDSA P-256, P-384, P-521
ed25519 ed448       EdDSA
rsa-rogue           RSA 2048 not in jwks.json (an attacker's key)
rsa1024             RSA 1024, too short to be loaded
TXT

print "keys, jwks.json and jwks-bad/ written under $data\n";
